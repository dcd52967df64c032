"""The Crucible calls the ingest flow makes, each idempotent, each one request (or a bounded few).

Every write can be repeated safely: creates carry the deterministic unique_id (a 409 means it is
already there), metadata is a deep-merge PATCH, keywords and links are idempotent on the server,
uploads are deduplicated by sha256 at initiate, and an ingestion request returns the open one if
there is one. That is what makes task retries, lost responses and re-runs after a kill harmless.
"""

from __future__ import annotations

from typing import Any, Iterable

from crucible.errors import CrucibleHTTPError, NotFoundError


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
        was lost: the client's retry meets the 409 and reads the record back); then it is read
        with its metadata, to see whether it is complete. Never a second dataset.
        """
        made, created = self.client.datasets.create_once(record)
        if created:
            return made or dict(record), True
        # made by an earlier run, or an attempt whose answer was lost: read it with metadata
        return self.get_dataset(record["unique_id"]) or made, False

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
        """Upload (or find, by sha256) one file and see its ingestion through.

        Returns the AssociatedFile: ``storage_path`` is set if it was ingested before, else
        ``ingestion_request`` holds the final state of the request this call waited for.
        """
        record = self.client.datasets.upload_file(
            dsid, local_path, sha256=sha256, relative_path=relative_path, ingest=True,
            ingestor=ingestor, wait=False)
        request = record.get("ingestion_request")
        if record.get("storage_path") or not request:
            return record
        try:  # short first polls: the local/auto ingestor usually answers within milliseconds
            final = self.client.ingestions.wait(request["id"], timeout=self.ingest_timeout,
                                                poll_interval=0.02, max_interval=2.0)
        except TimeoutError as exc:
            final = dict(request, status="timeout", error_message=str(exc))
        record["ingestion_request"] = final
        return record

    # ------------------------------------------------------------------ processing
    def post_process(self, dsid: str, name: str) -> dict:
        """File one processing request (answers synchronously); failures become a record."""
        try:
            result = self.client.datasets.request_processing(dsid, name)
        except CrucibleHTTPError as exc:
            return {"request_type": name, "dataset_mfid": dsid, "status": "failed",
                    "error_message": str(exc)}
        return dict(result or {}, request_type=name, dataset_mfid=dsid)
