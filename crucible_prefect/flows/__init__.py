"""The ready-made flows: thin Prefect wrappers over the plain engines in ``crucible``.

Each submits its engine's units of work as tasks, publishes artifacts from the engine's report
and ends in one contract (``crucible_prefect.flows.contract``). The repository's ``flows/``
folder holds one small deployable file per flow that imports from here.
"""

from crucible_prefect.flows.contract import report_of
from crucible_prefect.flows.ingest import ingest_instrument_output, ingest_instrument_output_dask
from crucible_prefect.flows.link import link_datasets_to_samples
from crucible_prefect.flows.mirror import mirror_downloads, mirror_downloads_dask

__all__ = ["ingest_instrument_output", "ingest_instrument_output_dask",
           "link_datasets_to_samples", "mirror_downloads", "mirror_downloads_dask", "report_of"]
