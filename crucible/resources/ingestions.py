"""``client.ingestions``: request, read, wait for (with a deadline and back-off) and update."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
import builtins
from typing import Any

from ..errors import CrucibleError
from .base import DEFAULT_LIMIT, Namespace, seg

__all__ = ["Ingestions", "PENDING_STATUSES", "IngestionFailed"]

log = logging.getLogger("crucible.ingestions")
PENDING_STATUSES = frozenset({"requested", "started", "pending", "running", "in_progress"})


class IngestionFailed(CrucibleError):
    """``wait(..., raise_on_failure=True)`` saw a terminal status other than ``complete``."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.request = request
        super().__init__(f"ingestion request {request.get('id')} ended "
                         f"{request.get('status')!r}: {request.get('error_message') or ''}")

    def __reduce__(self):
        # Picklable with its record, so Prefect can keep it in a failed task run's state.
        return (type(self), (self.request,))


class Ingestions(Namespace):
    """IngestionRequest calls: request, read, wait, update."""

    def get(self, rid: int | str) -> dict[str, Any]:
        return self._get(f"ingestion_requests/{seg(rid)}")

    def list(self, dataset_id: str | None = None, file_id: str | None = None,
             limit: int | None = DEFAULT_LIMIT, **filters: Any) -> list[dict[str, Any]]:
        return self._list("ingestion_requests", limit=limit,
                          params={"dataset_id": dataset_id, "file_id": file_id, **filters})

    def ingestors(self) -> builtins.list[str]:
        """Ingestion class names the server knows."""
        return list(self._get("ingestors") or [])

    def request(self, file_mfid: str, ingestion_class: str | None = None) -> dict[str, Any]:
        """Ask for ingestion of a file (the server returns the open request if there is one,
        so this is retried)."""
        return self._t.request("POST", f"files/{seg(file_mfid)}/ingest", safe=True,
                               params={"ingestion_class": ingestion_class})

    def wait(self, rid: int | str, timeout: float | None = 600.0, *,
             poll_interval: float = 0.2, max_interval: float = 5.0,
             raise_on_failure: bool = False) -> dict[str, Any]:
        """Poll until the request leaves ``requested``/``started``; returns the final record.

        Intervals grow from ``poll_interval`` to ``max_interval``; after ``timeout`` seconds
        (``None``: no deadline) ``TimeoutError`` is raised.
        """
        start = time.monotonic()
        interval = poll_interval
        while True:
            req = self.get(rid)
            status = str(req.get("status") or "").lower()
            if status not in PENDING_STATUSES:
                if raise_on_failure and status != "complete":
                    raise IngestionFailed(req)
                return req
            elapsed = time.monotonic() - start
            if timeout is not None and elapsed >= timeout:
                raise TimeoutError(f"ingestion request {rid} still {status!r} after "
                                   f"{elapsed:.0f}s")
            sleep = interval if timeout is None else min(interval, timeout - elapsed)
            time.sleep(max(0.0, sleep))
            interval = min(max_interval, interval * 1.6)

    def update(self, rid: int | str, status: str, **fields: Any) -> dict[str, Any]:
        """Admin: set status (and fields). Final statuses get ``time_completed`` in UTC."""
        body: dict[str, Any] = {"id": int(rid) if str(rid).isdigit() else rid,
                                "status": status, **fields}
        if status.lower() not in PENDING_STATUSES and "time_completed" not in body:
            body["time_completed"] = datetime.now(timezone.utc).isoformat()
        return self._t.request("PATCH", f"ingestion_requests/{seg(rid)}", json=body, safe=True)
