"""Scientific metadata and keyword tasks.

Metadata belongs to any resource (dataset, sample, instrument, project). ``update_metadata``
deep-merges (dicts recurse, lists and scalars are replaced) and creates the metadata if there is
none; ``replace_metadata`` swaps the whole document. Both are idempotent, as is adding a keyword.
"""

from __future__ import annotations

from typing import Any

from crucible_prefect.tasks.common import Credentials, client_for, crucible_task, plain, run_logger

__all__ = ["get_metadata", "update_metadata", "replace_metadata", "add_keywords", "get_keywords"]


@crucible_task
def get_metadata(resource_id: str, *, credentials: Credentials = None) -> dict[str, Any]:
    """The resource's scientific metadata (``{}`` when it has none)."""
    return plain(client_for(credentials).datasets.get_scientific_metadata(resource_id) or {})


@crucible_task
def update_metadata(
    resource_id: str,
    metadata: dict[str, Any],
    *,
    credentials: Credentials = None,
) -> dict[str, Any]:
    """Deep-merge ``metadata`` into the resource's metadata; returns the merged document."""
    client = client_for(credentials)
    result = client.datasets.update_scientific_metadata(resource_id, metadata, overwrite=False)
    run_logger().info("Merged %d metadata keys into %s", len(metadata), resource_id)
    return _document(result)


@crucible_task
def replace_metadata(
    resource_id: str,
    metadata: dict[str, Any],
    *,
    credentials: Credentials = None,
) -> dict[str, Any]:
    """Replace the resource's whole metadata document with ``metadata``; returns it."""
    client = client_for(credentials)
    result = client.datasets.update_scientific_metadata(resource_id, metadata, overwrite=True)
    run_logger().info("Replaced the metadata of %s (%d keys)", resource_id, len(metadata))
    return _document(result)


@crucible_task
def add_keywords(
    dataset_id: str,
    keywords: list[str],
    *,
    credentials: Credentials = None,
) -> list[dict[str, Any]]:
    """Tag a dataset with each keyword (adding one it has already is a no-op); returns
    ``[{keyword, num_datasets}]`` for the keywords given."""
    if isinstance(keywords, str):
        raise TypeError("add_keywords: keywords must be a list of strings, not one string")
    client = client_for(credentials)
    return [plain(client.datasets.add_keyword(dataset_id, kw)) for kw in keywords]


@crucible_task
def get_keywords(dataset_id: str, *, credentials: Credentials = None) -> list[str]:
    """The dataset's keywords."""
    rows = client_for(credentials).datasets.get_keywords(dataset_id)
    return [row["keyword"] if isinstance(row, dict) else str(row) for row in plain(rows)]


def _document(result: Any) -> dict[str, Any]:
    result = plain(result) or {}
    if isinstance(result, dict) and isinstance(result.get("scientific_metadata"), dict):
        return result["scientific_metadata"]
    return result
