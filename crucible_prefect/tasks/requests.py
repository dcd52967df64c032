"""Request tasks: file a deletion request, ask for post-processing of a dataset."""

from __future__ import annotations

from typing import Any

from crucible.resources.datasets import PROCESSING_TYPES
from crucible_prefect.tasks.common import Credentials, client_for, crucible_task, plain, run_logger

__all__ = ["PROCESSING_TYPES", "request_deletion", "request_processing"]


@crucible_task
def request_deletion(
    resource_id: str,
    *,
    reason: str | None = None,
    credentials: Credentials = None,
) -> dict[str, Any]:
    """File a deletion request for a resource (an admin approves it); returns the request.

    The resource is hidden from lists at once. If it already has a pending or approved
    request, that one is returned and no second request is filed.
    """
    client = client_for(credentials)
    existing = _open_deletion_request(client, resource_id)
    if existing is not None:
        run_logger().info("Resource %s already has deletion request %s (%s)", resource_id,
                          existing.get("id"), existing.get("status"))
        return existing
    request = plain(client.deletions.request(resource_id, reason=reason))
    run_logger().info("Filed deletion request %s for %s", request.get("id"), resource_id)
    return request


@crucible_task(retries=0)
def request_processing(
    dataset_id: str,
    request_type: str,
    *,
    credentials: Credentials = None,
) -> dict[str, Any]:
    """Ask the server to post-process a dataset; returns the processing request.

    ``request_type`` is one of `PROCESSING_TYPES`. Processing requests have no id to check
    against, so this task is not retried (a retry after a lost response could queue the work
    twice); add ``.with_options(retries=...)`` if duplicates are harmless for your type.
    """
    if request_type not in PROCESSING_TYPES:
        raise ValueError(f"request_processing: unknown request_type {request_type!r}; "
                         f"expected one of {', '.join(PROCESSING_TYPES)}")
    client = client_for(credentials)
    result = plain(client.datasets.request_processing(dataset_id, request_type))
    run_logger().info("Requested %s for dataset %s: %s", request_type, dataset_id,
                      result.get("status") if isinstance(result, dict) else result)
    return result


def _open_deletion_request(client: Any, resource_id: str) -> dict[str, Any] | None:
    record = plain(client.get(resource_id))
    pending = record.get("deletion_request") if isinstance(record, dict) else None
    if isinstance(pending, dict) and pending.get("status") in ("pending", "approved"):
        return pending
    return None
