"""Link tasks: dataset-sample associations and parent/child links, added and removed.

Adding a link twice is a no-op on the server. Removing one that is already gone answers 404;
the remove tasks then check that both ends exist and report ``removed: False`` instead of
failing, so a retried removal (whose first response was lost) succeeds.
"""

from __future__ import annotations

from typing import Any, Callable

from crucible_prefect.tasks.common import Credentials, client_for, crucible_task, run_logger

__all__ = [
    "add_sample_to_dataset",
    "remove_sample_from_dataset",
    "link_resources",
    "unlink_resources",
]


@crucible_task
def add_sample_to_dataset(
    dataset_id: str,
    sample_id: str,
    *,
    credentials: Credentials = None,
) -> dict[str, Any]:
    """Associate a sample with a dataset (many-to-many); idempotent."""
    client_for(credentials).datasets.add_sample(dataset_id, sample_id)
    run_logger().info("Linked sample %s to dataset %s", sample_id, dataset_id)
    return {"dataset_id": dataset_id, "sample_id": sample_id, "linked": True}


@crucible_task
def remove_sample_from_dataset(
    dataset_id: str,
    sample_id: str,
    *,
    credentials: Credentials = None,
) -> dict[str, Any]:
    """Remove a dataset-sample association; ``removed`` is False if it was already gone."""
    client = client_for(credentials)
    removed = _remove(client, dataset_id, sample_id,
                      lambda: client.datasets.remove_sample(dataset_id, sample_id))
    return {"dataset_id": dataset_id, "sample_id": sample_id, "removed": removed}


@crucible_task
def link_resources(
    parent_id: str,
    child_id: str,
    *,
    credentials: Credentials = None,
) -> dict[str, Any]:
    """Link two resources: dataset->dataset or sample->sample as parent/child, and a
    dataset with a sample as an association (the types are detected); idempotent."""
    client_for(credentials).link(parent_id, child_id)
    run_logger().info("Linked %s -> %s", parent_id, child_id)
    return {"parent_id": parent_id, "child_id": child_id, "linked": True}


@crucible_task
def unlink_resources(
    id_a: str,
    id_b: str,
    *,
    credentials: Credentials = None,
) -> dict[str, Any]:
    """Remove the link between two resources in either direction; ``removed`` is False if
    there was none."""
    client = client_for(credentials)
    removed = _remove(client, id_a, id_b, lambda: client.unlink(id_a, id_b))
    return {"id_a": id_a, "id_b": id_b, "removed": removed}


def _remove(client: Any, id_a: str, id_b: str, call: Callable[[], Any]) -> bool:
    """Run the DELETE; on 404 decide between "already unlinked" and "no such resource"."""
    from crucible.errors import NotFoundError

    try:
        call()
    except NotFoundError:
        # Raises NotFoundError itself if either end is missing or unreadable.
        client.get_resource_type(id_a)
        client.get_resource_type(id_b)
        run_logger().info("No link between %s and %s (already removed)", id_a, id_b)
        return False
    run_logger().info("Unlinked %s and %s", id_a, id_b)
    return True
