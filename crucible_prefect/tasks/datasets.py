"""Dataset tasks: get, list, create (idempotent) and update."""

from __future__ import annotations

from typing import Any

from crucible_prefect.tasks.common import (
    Credentials,
    client_for,
    create_once,
    crucible_task,
    plain,
    run_logger,
)

__all__ = ["get_dataset", "list_datasets", "create_dataset", "update_dataset"]


@crucible_task
def get_dataset(
    dataset_id: str,
    *,
    include_metadata: bool = False,
    include_links: bool = False,
    credentials: Credentials = None,
) -> dict[str, Any]:
    """The dataset record; ``NotFoundError`` if it does not exist or this key may not read it."""
    client = client_for(credentials)
    return plain(client.datasets.get(dataset_id, include_metadata=include_metadata,
                                     include_links=include_links))


@crucible_task
def list_datasets(
    *,
    sample_id: str | None = None,
    filters: dict[str, Any] | None = None,
    include_metadata: bool = False,
    limit: int | None = 100,
    credentials: Credentials = None,
) -> list[dict[str, Any]]:
    """Datasets matching ``filters`` (exact field matches, ``keyword`` substring), newest first.

    ``sample_id`` lists the datasets linked to that sample. ``limit=None`` returns every match.
    """
    client = client_for(credentials)
    return plain(client.datasets.list(sample_id=sample_id, include_metadata=include_metadata,
                                      limit=limit, **(filters or {})))


@crucible_task
def create_dataset(
    dataset: dict[str, Any],
    *,
    scientific_metadata: dict[str, Any] | None = None,
    keywords: list[str] | None = None,
    credentials: Credentials = None,
) -> dict[str, Any]:
    """Create a dataset (plus metadata and keywords) and return its record.

    Safe to retry: without a ``unique_id`` in ``dataset`` the id is derived from the task run,
    so every attempt of this task run creates at most one dataset. Pass your own ``unique_id``
    to make re-runs of a whole flow reuse the same dataset.
    """
    client = client_for(credentials)
    record = create_once("dataset", client.datasets, dataset, same=("dataset_name", "project_id"))
    dsid = record["unique_id"]
    if scientific_metadata:
        client.datasets.update_scientific_metadata(dsid, scientific_metadata)
    for keyword in keywords or ():
        client.datasets.add_keyword(dsid, keyword)
    run_logger().info("Dataset %s (%s) ready", dsid, record.get("dataset_name"))
    return record


@crucible_task
def update_dataset(
    dataset_id: str,
    updates: dict[str, Any],
    *,
    credentials: Credentials = None,
) -> dict[str, Any]:
    """Change the given fields of a dataset (a PATCH: repeating it changes nothing more)."""
    if not updates:
        raise ValueError("update_dataset: no fields to update")
    client = client_for(credentials)
    return plain(client.datasets.update(dataset_id, **updates))
