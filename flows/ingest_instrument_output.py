"""Deployable flow file: ingest a finished instrument run into Crucible.

Entrypoint ``flows/ingest_instrument_output.py:ingest_instrument_output`` (or
``:ingest_instrument_output_dask``). Run it once from a shell:
``python flows/ingest_instrument_output.py PATH INSTRUMENT PROJECT [CREDENTIALS_BLOCK]``.
"""

import sys

from crucible_prefect.flows.ingest import ingest_instrument_output, ingest_instrument_output_dask

__all__ = ["ingest_instrument_output", "ingest_instrument_output_dask"]

if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(f"usage: {sys.argv[0]} PATH INSTRUMENT PROJECT [CREDENTIALS_BLOCK]")
    state = ingest_instrument_output(*sys.argv[1:4], credentials=(sys.argv[4:] or [None])[0],
                                     return_state=True)
    print(state.message)
    sys.exit(0 if state.is_completed() else 1)
