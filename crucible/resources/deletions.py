"""``client.deletions``: deletion requests, their review, hard deletes and the audit log."""

from __future__ import annotations

import builtins
from typing import Any

from .base import DEFAULT_LIMIT, Namespace, seg

__all__ = ["Deletions"]


class Deletions(Namespace):
    def request(self, resource_id: str, reason: str | None = None) -> dict[str, Any]:
        """File a deletion request (the server returns the pending one if it exists, so this
        is retried)."""
        return self._t.request("POST", f"resources/{seg(resource_id)}/delete",
                               params={"reason": reason}, safe=True)

    def list(self, status: str | None = None, limit: int | None = DEFAULT_LIMIT,
             **filters: Any) -> list[dict[str, Any]]:
        return self._list("deletion_requests", limit=limit, params={"status": status, **filters})

    def get(self, request_id: int | str) -> dict[str, Any]:
        return self._get(f"deletion_requests/{seg(request_id)}")

    def _review(self, request_id: int | str, status: str, notes: str | None) -> dict[str, Any]:
        return self._t.request("PATCH", f"deletion_requests/{seg(request_id)}",
                               params={"status": status, "reviewer_notes": notes},
                               on_retry_conflict=lambda: self.get(request_id))

    def approve(self, request_id: int | str, reviewer_notes: str | None = None) -> dict:
        """Admin: approve (a retry after a lost answer reads the reviewed request back)."""
        return self._review(request_id, "approved", reviewer_notes)

    def reject(self, request_id: int | str, reviewer_notes: str | None = None) -> dict:
        return self._review(request_id, "rejected", reviewer_notes)

    def delete(self, resource_id: str, force: bool = False) -> dict[str, Any]:
        """Admin: hard delete (needs an approved request unless ``force``)."""
        return self._delete(f"resources/{seg(resource_id)}", params={"force": force or None})

    def list_deleted(self, limit: int | None = DEFAULT_LIMIT, **filters: Any) -> builtins.list[dict]:
        return self._list("deletion_audit", limit=limit, params=filters)

    def get_deleted(self, audit_id: int | str) -> dict[str, Any]:
        return self._get(f"deletion_audit/{seg(audit_id)}")
