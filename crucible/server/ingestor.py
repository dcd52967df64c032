"""The built-in ingestion worker: a background thread taking requests to a terminal status.

``auto`` mode claims ``requested`` rows (``requested`` → ``started`` → ``complete``/``failed``);
``manual`` mode leaves them alone so tests can drive the status through PATCH.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from .db import Entity, File, IngestionRequest, now_iso, rowcount
from .storage import Storage

log = logging.getLogger(__name__)
GITHASH = "local-server"


class IngestError(Exception):
    """Ends a request with ``status`` (default ``failed``) and the message."""

    def __init__(self, message: str, status: str = "failed") -> None:
        super().__init__(message)
        self.status = status


class Ingestor(Protocol):
    """An ingestion class: ``run`` does the work or raises (``IngestError`` for a clean failure)."""

    name: str

    def run(self, db: Session, storage: Storage, req: IngestionRequest) -> None: ...


class ApiUploadIngestor:
    """Move the uploaded blob into storage and fill size, sha256 and ``storage_path``."""

    name = "ApiUploadIngestor"

    def run(self, db: Session, storage: Storage, req: IngestionRequest) -> None:
        f = db.scalar(select(File).where(File.mfid == req.file_mfid)) if req.file_mfid else None
        if f is None:
            raise IngestError("file not found", status="file not found")
        if storage.current(f.mfid) is None:
            raise IngestError(f"blob of file {f.mfid} is missing", status="file not found")
        store_file(db, storage, f)


class FailingIngestor:
    """Always fails: for tests of failure reporting."""

    name = "FailingIngestor"

    def run(self, db: Session, storage: Storage, req: IngestionRequest) -> None:
        raise IngestError("FailingIngestor always fails (test ingestor)")


INGESTORS: dict[str, type[Ingestor]] = {
    cls.name: cls for cls in (ApiUploadIngestor, FailingIngestor)
}


def store_file(db: Session, storage: Storage, f: File) -> None:
    """Put ``f`` in the store and update the file and dataset records (idempotent)."""
    storage.ingest(f.mfid)
    f.storage_path = f"mf-storage-prod/{f.dataset_mfid}/{f.relpath}"
    ds = db.scalar(select(Entity).where(Entity.unique_id == f.dataset_mfid))
    if ds is not None:
        sizes = db.scalars(select(File.size).where(File.dataset_mfid == f.dataset_mfid,
                                                   File.storage_path.is_not(None))).all()
        fields = dict(ds.fields or {})
        fields["size"] = int(sum(sizes))
        fields.setdefault("sha256_hash_file_to_upload", None)
        if not fields["sha256_hash_file_to_upload"]:
            fields["sha256_hash_file_to_upload"] = f.sha256_hash
        fields["ingestion_class"] = fields.get("ingestion_class") or ApiUploadIngestor.name
        fields["ingestion_githash"] = GITHASH
        ds.fields = fields
        ds.modification_time = now_iso()


def finish(db: Session, req: IngestionRequest, status: str, error: str | None = None) -> None:
    req.status = status
    req.error_message = error
    req.time_completed = now_iso()


class IngestWorker:
    """Runs in its own thread for the life of the app."""

    def __init__(self, sessions: sessionmaker[Session], storage: Storage, mode: str = "auto") -> None:
        self.sessions = sessions
        self.storage = storage
        self.mode = mode
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ingest-worker", daemon=True)

    def start(self) -> None:
        """Requeue what this worker had claimed when the server last stopped, then run."""
        with self.sessions() as db:
            db.execute(update(IngestionRequest)
                       .where(IngestionRequest.status == "started",
                              IngestionRequest.ingestion_githash == GITHASH)
                       .values(status="requested"))
            db.commit()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=0.5)
            self._wake.clear()
            if self.mode != "auto":
                continue
            try:
                while self._run_one():
                    pass
            except Exception:  # noqa: BLE001 - the worker must survive any single failure
                log.exception("ingest worker error")

    def _run_one(self) -> bool:
        """Claim and process one requested ingestion; False when there is none."""
        with self.sessions() as db:
            rid = db.scalar(select(IngestionRequest.id).where(IngestionRequest.status == "requested")
                            .order_by(IngestionRequest.id).limit(1))
            if rid is None:
                return False
            claimed = db.execute(update(IngestionRequest)
                                 .where(IngestionRequest.id == rid, IngestionRequest.status == "requested")
                                 .values(status="started", ingestion_githash=GITHASH))
            db.commit()
            if rowcount(claimed) == 0:
                return True
            req = db.get(IngestionRequest, rid)
            if req is None:  # deleted with its dataset since it was claimed
                return True
            self._ingest(db, req)
            try:
                db.commit()
            except StaleDataError:  # rows it wrote were deleted while it ran
                db.rollback()
                still = db.get(IngestionRequest, rid)
                if still is None:
                    log.info("ingestion %s: deleted with its dataset while it ran", rid)
                else:  # its file was deleted: the request ends, it does not stay 'started'
                    finish(db, still, "file not found", "the file was deleted while it was ingested")
                    db.commit()
            return True

    def _ingest(self, db: Session, req: IngestionRequest) -> None:
        """Run ``req``'s ingestion class and give it its final status (not committed). A request
        deleted with its dataset while it ran is left alone (nothing is left to report on)."""
        rid = req.id
        ingestor = INGESTORS.get(req.ingestion_class)
        try:
            if ingestor is None:
                raise IngestError(f"unknown ingestion class {req.ingestion_class}", "not supported")
            ingestor().run(db, self.storage, req)
            finish(db, req, "complete")
        except Exception as exc:  # noqa: BLE001 - any error must end the request, not strand it
            db.rollback()
            still = db.get(IngestionRequest, rid)
            if still is None:  # gone with its dataset: whatever failed, there is no one to tell
                log.info("ingestion %s: deleted with its dataset while it ran (%s)", rid, exc)
                return
            if not isinstance(exc, IngestError):
                log.exception("ingestion %s crashed", rid)
            finish(db, still, getattr(exc, "status", "failed"), str(exc) or type(exc).__name__)
