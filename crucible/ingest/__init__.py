"""The ingest engine: a finished instrument run becomes Crucible datasets, exactly once.

:class:`IngestJob` is the job (``crucible ingest`` and the ``ingest_instrument_output`` flow run
it), configured by :class:`IngestSettings`. The pieces, one purpose per module:

- `discovery`: find a run's files on any fsspec filesystem, include/exclude globs
- `grouping`: companion files that travel together (``.ser`` + ``.emi``)
- `quiescence`: hold back files that may still be written
- `identity`: deterministic dataset ids, single-pass sha256
- `hashcache`: a local digest ledger so unchanged files are never re-read
- `extractors`: scientific-metadata extractors (JSON sidecar, import paths)
- `worker`, `batching`, `ops`: one file group, a batch of them, the Crucible calls they make
- `report`: the per-file report
"""

from .engine import IngestJob
from .report import FileRow, IngestFailed, IngestReport
from .settings import IngestOptions, IngestSettings

__all__ = ["FileRow", "IngestFailed", "IngestJob", "IngestOptions", "IngestReport",
           "IngestSettings"]
