"""The Crucible calls the ingest flow makes, each idempotent, each one request (or a bounded few).

Every write can be repeated safely: creates carry the deterministic unique_id (a 409 means it is
already there), metadata is a deep-merge PATCH, keywords and links are idempotent on the server,
uploads are deduplicated by sha256 at initiate, and an ingestion request returns the open one if
there is one. That is what makes task retries, lost responses and re-runs after a kill harmless.
"""

from __future__ import annotations

import time
from typing import Any, Iterable

from crucible.errors import CrucibleHTTPError, NotFoundError
from crucible.resources.ingestions import PENDING_STATUSES


class CrucibleOps:
    """Thin, idempotent wrappers over one `crucible.CrucibleClient`."""

    def __init__(self, client: Any, *, ingest_timeout: float = 600.0):
        self.client = client
        self.ingest_timeout = ingest_timeout

    # ------------------------------------------------------------------ preflight
    def account(self) -> dict:
        return self.client.whoami() or {}

    def instrument_exists(self, name: str) -> bool:
        found = self.client.instruments.get(instrument_name=name)
        return bool(found) and found.get("instrument_name") == name

    # ------------------------------------------------------------------ datasets
    def get_dataset(self, dsid: str) -> dict | None:
        try:
            return self.client.datasets.get(dsid, include_metadata=True)
        except NotFoundError:
            return None

    def ensure_dataset(self, record: dict) -> tuple[dict, bool]:
        """Create the dataset with ``record``'s unique_id, or find it; (dataset, created_here).

        Called for ids the run's listing did not show. The id is deterministic, so the POST
        either makes the dataset or answers 409 (made meanwhile, or by an attempt whose answer
        was lost: the client's retry meets the 409 and reads the record back); an existing
        one comes back with its metadata, to see whether it is complete. Never a second dataset.
        """
        made, created = self.client.datasets.create_once(record)  # an existing one: read
        return (made or dict(record)), created  # with its metadata (Datasets._read_existing)

    def merge_metadata(self, dsid: str, metadata: dict) -> None:
        self.client.datasets.update_scientific_metadata(dsid, metadata)

    def add_keywords(self, dsid: str, keywords: Iterable[str]) -> None:
        for word in keywords:
            self.client.datasets.add_keyword(dsid, word)

    def link_sample(self, dsid: str, sample_id: str) -> None:
        self.client.datasets.add_sample(dsid, sample_id)

    def link_child(self, parent: str, child: str) -> None:
        self.client.datasets.link_parent_child(parent, child)

    def list_run_datasets(self, *, project_id: str, instrument_name: str,
                          session_name: str) -> list[dict]:
        """Datasets of one run, with metadata (bounded by the run's size, not the project's)."""
        return self.client.datasets.list(include_metadata=True, limit=None, project_id=project_id,
                                         instrument_name=instrument_name,
                                         session_name=session_name)

    def dataset_files(self, dsid: str) -> list[dict]:
        return self.client.files.list(dataset_id=dsid, limit=None)

    # ------------------------------------------------------------------ files
    def upload(self, dsid: str, local_path: str, *, sha256: str, relative_path: str,
               ingestor: str | None) -> dict:
        """Upload (or find, by sha256) one file and request its ingestion, without waiting.

        Returns the AssociatedFile: ``storage_path`` is set if it was ingested before, else
        ``ingestion_request`` holds the request (usually still ``requested``; see
        :meth:`await_ingestions`).
        """
        return self.client.datasets.upload_file(
            dsid, local_path, sha256=sha256, relative_path=relative_path, ingest=True,
            ingestor=ingestor, wait=False)

    def await_ingestions(self, requests: list[dict]) -> dict[int, dict]:
        """The final state of each ingestion request, ``{id: request}``; few calls for many.

        One listing of the caller's newest ingestion requests (``GET /ingestion_requests``,
        newest first, one page) answers for every request it shows in a final state; the
        listing is repeated, with growing pauses, while some are still pending. A request the
        page does not show (pushed out by newer ones, or a server without the listing) is
        waited for on its own. A request still pending at the deadline ends ``timeout``.
        """
        final: dict[int, dict] = {}
        waiting = {r["id"]: r for r in requests if not _is_final(r)}
        final.update({r["id"]: r for r in requests if _is_final(r)})
        deadline = time.monotonic() + self.ingest_timeout
        pause = 0.02
        while waiting:
            try:
                page = self.client.ingestions.list(limit=min(1000, 100 + 16 * len(waiting)))
            except CrucibleHTTPError:
                page = []  # no listing here: each request on its own below
            seen = {r.get("id"): r for r in page}
            unseen = [rid for rid in waiting if rid not in seen]
            for rid in list(waiting):
                if rid in seen and _is_final(seen[rid]):
                    final[rid] = seen.pop(rid)
                    del waiting[rid]
            for rid in unseen:
                final[rid] = self._wait_one(waiting.pop(rid), deadline)
            if not waiting:
                break
            if time.monotonic() >= deadline:
                final.update({rid: dict(r, status="timeout", error_message=(
                    f"ingestion still {r.get('status')!r} after {self.ingest_timeout:.0f}s"))
                    for rid, r in waiting.items()})
                break
            time.sleep(pause)
            pause = min(2.0, pause * 1.6)
        return final

    def _wait_one(self, request: dict, deadline: float) -> dict:
        try:  # short first polls: the local/auto ingestor usually answers within milliseconds
            return self.client.ingestions.wait(request["id"],
                                               timeout=max(0.0, deadline - time.monotonic()),
                                               poll_interval=0.02, max_interval=2.0)
        except TimeoutError as exc:
            return dict(request, status="timeout", error_message=str(exc))

    # ------------------------------------------------------------------ processing
    def post_process(self, dsid: str, name: str) -> dict:
        """File one processing request (answers synchronously); failures become a record."""
        try:
            result = self.client.datasets.request_processing(dsid, name)
        except CrucibleHTTPError as exc:
            return {"request_type": name, "dataset_mfid": dsid, "status": "failed",
                    "error_message": str(exc)}
        return dict(result or {}, request_type=name, dataset_mfid=dsid)


def _is_final(request: dict) -> bool:
    return str(request.get("status") or "").lower() not in PENDING_STATUSES
