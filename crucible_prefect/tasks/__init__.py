"""Prefect tasks for every common Crucible operation.

All are sync, tagged ``crucible``, take plain values plus ``credentials`` (a
`CrucibleCredentials` block, a block name, or None for the plain client's configuration) and
return small JSON-able values. See docs/tasks.md.
"""

from crucible_prefect.tasks.datasets import create_dataset, get_dataset, list_datasets, update_dataset
from crucible_prefect.tasks.files import (
    IngestionFailedError,
    download_dataset,
    find_files_by_sha256,
    request_ingestion,
    upload_files,
    wait_for_ingestion,
)
from crucible_prefect.tasks.metadata import (
    add_keywords,
    get_keywords,
    get_metadata,
    replace_metadata,
    update_metadata,
)
from crucible_prefect.tasks.relations import (
    add_sample_to_dataset,
    link_resources,
    remove_sample_from_dataset,
    unlink_resources,
)
from crucible_prefect.tasks.requests import PROCESSING_TYPES, request_deletion, request_processing
from crucible_prefect.tasks.samples import create_sample, get_sample, list_samples, update_sample

__all__ = [
    "IngestionFailedError",
    "PROCESSING_TYPES",
    "add_keywords",
    "add_sample_to_dataset",
    "create_dataset",
    "create_sample",
    "download_dataset",
    "find_files_by_sha256",
    "get_dataset",
    "get_keywords",
    "get_metadata",
    "get_sample",
    "link_resources",
    "list_datasets",
    "list_samples",
    "remove_sample_from_dataset",
    "replace_metadata",
    "request_deletion",
    "request_ingestion",
    "request_processing",
    "unlink_resources",
    "update_dataset",
    "update_metadata",
    "update_sample",
    "upload_files",
    "wait_for_ingestion",
]
