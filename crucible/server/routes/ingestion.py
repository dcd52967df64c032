"""Ingestion requests: create, read, list, PATCH (admin), and the ingestor list."""

from __future__ import annotations

from typing import Optional

from fastapi import HTTPException, Request
from sqlalchemy import select

from ..auth import Caller, check_write, require_admin, visible_clause
from ..db import Entity, File, IngestionRequest
from ..deps import DB, Conf, IntId, Limit, Offset, Who
from ..ingestor import INGESTORS, finish, store_file
from ..records import get_entity, off_envelope, offset_page
from .. import responses as out
from ..schemas import IngestionPatch
from .base import api_router

router = api_router(tags=["ingestion"])
TERMINAL = {"complete", "failed", "not supported", "file not found", "file too large"}
STATUSES = TERMINAL | {"requested", "started", "not_requested"}


def ingestion_record(r: IngestionRequest) -> dict:
    return {"id": r.id, "status": r.status, "ingestion_class": r.ingestion_class,
            "dataset_mfid": r.dataset_mfid, "file_mfid": r.file_mfid, "time_created": r.time_created,
            "time_completed": r.time_completed, "error_message": r.error_message,
            "ingestion_githash": r.ingestion_githash}


def request_ingestion(request: Request, db, caller: Caller, conf, dsid: str, file_mfid: str | None,
                      ingestion_class: str | None, status: str | None = None) -> dict:
    """Open a request; return the existing one if the file already has a live request.

    ``status=not_requested`` (nano-crucible 3.3 ``skip_ingestion``) registers a request the worker
    leaves alone; a later plain request turns that same record into ``requested``.
    """
    status = status or "requested"
    if status not in ("requested", "not_requested"):
        raise HTTPException(422, "status must be 'requested' or 'not_requested'")
    ds = get_entity(db, caller, dsid, "dataset")
    check_write(db, caller, ds)
    cls = ingestion_class or conf.default_ingestor
    if cls not in INGESTORS:
        raise HTTPException(422, f"Unknown ingestion_class {cls!r}; see GET /ingestors")
    if file_mfid is not None:
        live = db.scalar(select(IngestionRequest).where(
            IngestionRequest.file_mfid == file_mfid,
            IngestionRequest.status.not_in(["failed", "not supported", "file not found",
                                            "file too large"])).order_by(IngestionRequest.id.desc()))
        if live is not None:
            if live.status == "not_requested" and status == "requested":
                live.status, live.ingestion_class = "requested", cls
                db.commit()
                request.app.state.worker.wake()
            return ingestion_record(live)
    req = IngestionRequest(status=status, ingestion_class=cls, dataset_mfid=dsid,
                           file_mfid=file_mfid, requester_id=caller.user_id)
    db.add(req)
    db.commit()
    request.app.state.worker.wake()
    return ingestion_record(req)


def _file(db, caller: Caller, mfid: str) -> File:
    f = db.scalar(select(File).where(File.mfid == mfid))
    if f is None:
        raise HTTPException(404, f"File {mfid} not found")
    get_entity(db, caller, f.dataset_mfid, "dataset")
    return f


@router.post("/files/{mfid}/ingest", response_model=out.IngestionRequest)
def ingest_file(mfid: str, request: Request, db: DB, caller: Who, conf: Conf,
                ingestion_class: Optional[str] = None, status: Optional[str] = None):
    f = _file(db, caller, mfid)
    return request_ingestion(request, db, caller, conf, f.dataset_mfid, f.mfid, ingestion_class,
                             status)


@router.post("/datasets/{dsid}/files/{mfid}/ingest", response_model=out.IngestionRequest)
def ingest_dataset_file(dsid: str, mfid: str, request: Request, db: DB, caller: Who, conf: Conf,
                        ingestion_class: Optional[str] = None, status: Optional[str] = None):
    f = _file(db, caller, mfid)
    if f.dataset_mfid != dsid:
        raise HTTPException(404, f"File {mfid} not found in dataset {dsid}")
    return request_ingestion(request, db, caller, conf, dsid, f.mfid, ingestion_class, status)


@router.post("/datasets/{dsid}/ingest", response_model=out.IngestionRequest)
def ingest_by_path(dsid: str, request: Request, db: DB, caller: Who, conf: Conf,
                   ingestion_class: Optional[str] = None, file_to_upload: Optional[str] = None):
    """S-era form: the file is named by its upload path (or the dataset's ``file_to_upload``)."""
    ds = get_entity(db, caller, dsid, "dataset")
    path = file_to_upload or (ds.fields or {}).get("file_to_upload")
    f = None
    if path:
        base = path.rsplit("/", 1)[-1]
        newest_with_bytes_first = (File.crc32c.is_(None), File.seq.desc())
        for cand in db.scalars(select(File).where(File.dataset_mfid == dsid)
                               .order_by(*newest_with_bytes_first)):
            if path in (cand.filename, cand.relpath) or cand.relpath.rsplit("/", 1)[-1] == base:
                f = cand
                break
    return request_ingestion(request, db, caller, conf, dsid, f.mfid if f else None, ingestion_class)


def _get_request(db, caller: Caller, rid: int) -> IngestionRequest:
    req = db.get(IngestionRequest, rid)
    if req is None:
        raise HTTPException(404, f"Ingestion request {rid} not found")
    get_entity(db, caller, req.dataset_mfid, "dataset")
    return req


@router.get("/ingestion_requests", response_model=out.OffsetPage[out.IngestionRequest])
def list_requests(db: DB, caller: Who, dataset_id: Optional[str] = None, file_id: Optional[str] = None,
                  status: Optional[str] = None, limit: Limit = 100, offset: Offset = 0,
                  dataset_mfid: Optional[str] = None, file_mfid: Optional[str] = None):
    """``dataset_mfid``/``file_mfid`` are the names nano-crucible 3.3 sends."""
    dataset_id, file_id = dataset_id or dataset_mfid, file_id or file_mfid
    q = (select(IngestionRequest).join(Entity, Entity.unique_id == IngestionRequest.dataset_mfid)
         .where(visible_clause(caller)))
    if dataset_id is not None:
        q = q.where(IngestionRequest.dataset_mfid == dataset_id)
    if file_id is not None:
        q = q.where(IngestionRequest.file_mfid == file_id)
    if status is not None:
        q = q.where(IngestionRequest.status == status)
    rows, total = offset_page(db, q, limit, offset, order=IngestionRequest.id.desc())
    return off_envelope([ingestion_record(r) for r in rows], total, limit, offset)


@router.get("/ingestion_requests/{rid}", response_model=out.IngestionRequest)
def get_request(rid: IntId, db: DB, caller: Who):
    return ingestion_record(_get_request(db, caller, rid))


def patch_request(request: Request, db, caller: Caller, rid: int, body: IngestionPatch) -> dict:
    """Admin (worker) status update. Marking ``complete`` also stores the file, so manual-mode
    tests see download links exactly as after a real ingestion."""
    require_admin(caller)
    req = _get_request(db, caller, rid)
    if body.status is not None:
        if body.status not in STATUSES:
            raise HTTPException(422, f"Unknown status {body.status!r}; one of {sorted(STATUSES)}")
        if body.status == "complete" and req.file_mfid:
            f = db.scalar(select(File).where(File.mfid == req.file_mfid))
            if f is not None and request.app.state.storage.current(f.mfid) is not None:
                store_file(db, request.app.state.storage, f)
        if body.status in TERMINAL:
            finish(db, req, body.status, body.error_message)
        else:
            req.status = body.status
    for name in ("ingestion_githash", "ingestion_class", "time_completed", "error_message"):
        value = getattr(body, name)
        if value is not None:
            setattr(req, name, value)
    db.commit()
    return ingestion_record(req)


@router.patch("/ingestion_requests/{rid}", response_model=out.IngestionRequest)
def patch_ingestion(rid: IntId, body: IngestionPatch, request: Request, db: DB, caller: Who):
    return patch_request(request, db, caller, rid, body)


@router.get("/datasets/{dsid}/ingest/{rid}", response_model=out.IngestionRequest)
def get_dataset_request(dsid: str, rid: IntId, db: DB, caller: Who):
    req = _get_request(db, caller, rid)
    if req.dataset_mfid != dsid:
        raise HTTPException(404, f"Ingestion request {rid} not found")
    return ingestion_record(req)


@router.patch("/datasets/{dsid}/ingest/{rid}", response_model=out.IngestionRequest)
def patch_dataset_request(dsid: str, rid: IntId, body: IngestionPatch, request: Request, db: DB,
                          caller: Who):
    return patch_request(request, db, caller, rid, body)


@router.get("/ingestors", response_model=list[str])
def ingestors(caller: Who):
    return sorted(INGESTORS)

