"""Deployable flow file: mirror Crucible datasets to any fsspec destination.

Entrypoint ``flows/mirror_downloads.py:mirror_downloads`` (or ``:mirror_downloads_dask``).
Run it once from a shell: ``python flows/mirror_downloads.py DESTINATION DATASET_ID...``.
"""

import sys

from crucible_prefect.flows.mirror import mirror_downloads, mirror_downloads_dask

__all__ = ["mirror_downloads", "mirror_downloads_dask"]

if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(f"usage: {sys.argv[0]} DESTINATION DATASET_ID...")
    state = mirror_downloads(sys.argv[1], sys.argv[2:], return_state=True)
    print(state.message)
    sys.exit(0 if state.is_completed() else 1)
