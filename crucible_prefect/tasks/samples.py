"""Sample tasks: get, list, create (idempotent) and update."""

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

__all__ = ["get_sample", "list_samples", "create_sample", "update_sample"]


@crucible_task
def get_sample(
    sample_id: str,
    *,
    include_links: bool = False,
    credentials: Credentials = None,
) -> dict[str, Any]:
    """The sample record; ``NotFoundError`` if it does not exist or this key may not read it."""
    client = client_for(credentials)
    return plain(client.samples.get(sample_id, include_links=include_links))


@crucible_task
def list_samples(
    *,
    dataset_id: str | None = None,
    parent_id: str | None = None,
    filters: dict[str, Any] | None = None,
    limit: int | None = 100,
    credentials: Credentials = None,
) -> list[dict[str, Any]]:
    """Samples matching ``filters``; of one dataset (``dataset_id``) or parent (``parent_id``).

    ``limit=None`` returns every match.
    """
    client = client_for(credentials)
    return plain(client.samples.list(dataset_id=dataset_id, parent_id=parent_id, limit=limit,
                                     **(filters or {})))


@crucible_task
def create_sample(
    sample: dict[str, Any],
    *,
    credentials: Credentials = None,
) -> dict[str, Any]:
    """Create a sample and return its record.

    Safe to retry, like `create_dataset`: the id comes from ``sample["unique_id"]`` or, if
    absent, from the task run.
    """
    if not (sample.get("sample_name") or sample.get("unique_id")):
        raise ValueError("create_sample: give the sample a sample_name (or a unique_id)")
    client = client_for(credentials)
    record = create_once("sample", client.samples, sample, same=("sample_name", "project_id"))
    run_logger().info("Sample %s (%s) ready", record["unique_id"], record.get("sample_name"))
    return record


@crucible_task
def update_sample(
    sample_id: str,
    updates: dict[str, Any],
    *,
    credentials: Credentials = None,
) -> dict[str, Any]:
    """Change the given fields of a sample (a PATCH: repeating it changes nothing more)."""
    if not updates:
        raise ValueError("update_sample: no fields to update")
    client = client_for(credentials)
    return plain(client.samples.update(sample_id, **updates))
