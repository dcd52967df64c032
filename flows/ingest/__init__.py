"""The pieces of the ``ingest_instrument_output`` flow, one purpose per module.

- `discovery`: find a run's files on any fsspec filesystem, include/exclude globs
- `grouping`: companion files that travel together (``.ser`` + ``.emi``)
- `quiescence`: hold back files that may still be written
- `identity`: deterministic dataset ids, single-pass sha256
- `hashcache`: a local digest ledger so unchanged files are never re-read
- `extractors`: scientific-metadata extractors (JSON sidecar, import paths)
- `report`: the per-file report, progress and table artifacts
"""
