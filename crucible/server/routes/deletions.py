"""Deletion requests, review, hard delete and the audit log.

A pending or approved request hides the resource from lists and search at once (``hidden``);
get-by-id still works and shows ``deletion_request``. Rejection restores it.
"""

from __future__ import annotations

import shutil
from typing import Optional, Union

from fastapi import HTTPException, Request
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from ..auth import Caller, require_admin
from ..db import (
    Acl, DeletionAudit, DeletionRequest, Entity, File, IngestionRequest, Keyword, Link, Membership,
    Metadata, ProcessingRequest, Project, Thumbnail, Upload, UploadPart, now_iso,
)
from ..deps import DB, IntId, Limit, Offset, Who
from ..records import off_envelope, offset_page
from .. import responses as out
from .resources import check_writable, resolve
from .base import api_router

router = api_router(tags=["deletion"])
REQUEST_FIELDS = ("id", "resource_type", "resource_id", "resource_name", "project_id", "requester_id",
                  "reason", "status", "request_time", "review_time", "reviewer_id", "reviewer_notes")


def deletion_record(r: Union[DeletionRequest, DeletionAudit]) -> dict:
    rec = {k: getattr(r, k) for k in REQUEST_FIELDS}
    if isinstance(r, DeletionAudit):
        rec.update(request_id=r.request_id, deleted_at=r.deleted_at)
    return rec


def refresh_hidden(db: Session, resource_id: str) -> None:
    """Hide the resource while it has a live request; requests older than the resource (filed
    against an earlier, hard-deleted resource with the same id) do not count."""
    ent = db.scalar(select(Entity).where(Entity.unique_id == resource_id))
    if ent is None:
        return
    mine = (DeletionRequest.resource_id == resource_id,
            DeletionRequest.request_time >= ent.creation_time)
    live = db.scalar(select(func.count()).select_from(DeletionRequest).where(
        *mine, DeletionRequest.status.in_(["pending", "approved"])))
    ent.hidden = bool(live)
    ent.last_deletion_id = db.scalar(select(func.max(DeletionRequest.id)).where(*mine))


def file_request(db: Session, caller: Caller, resource_id: str, reason: Optional[str]) -> dict:
    """Open a pending request; a pending one by the same requester is returned instead."""
    res = resolve(db, caller, resource_id)
    check_writable(db, caller, res)
    rid = res.unique_id if isinstance(res, Entity) else res.project_id
    same = db.scalar(select(DeletionRequest).where(
        DeletionRequest.resource_id == rid, DeletionRequest.requester_id == caller.orcid,
        DeletionRequest.status == "pending"))
    if same is not None:
        return deletion_record(same)
    if isinstance(res, Entity):
        rtype, name, project = res.kind, res.name, res.project_id
    else:
        rtype, name, project = "project", res.title, res.project_id
    req = DeletionRequest(resource_type=rtype, resource_id=rid, resource_name=name, project_id=project,
                          requester_id=caller.orcid, reason=reason, status="pending")
    db.add(req)
    db.flush()
    refresh_hidden(db, rid)
    db.commit()
    return deletion_record(req)


@router.post("/resources/{rid}/delete", response_model=out.DeletionRequest)
def request_deletion(rid: str, db: DB, caller: Who, reason: Optional[str] = None):
    return file_request(db, caller, rid, reason)


@router.post("/deletion_requests", response_model=out.DeletionRequest)
def request_deletion_legacy(resource_id: str, db: DB, caller: Who, reason: Optional[str] = None):
    return file_request(db, caller, resource_id, reason)


@router.get("/deletion_requests", response_model=out.OffsetPage[out.DeletionRequest])
def list_requests(db: DB, caller: Who, status: Optional[str] = None, limit: Limit = 100,
                  offset: Offset = 0):
    """Admins see every request; other users see their own."""
    q = select(DeletionRequest)
    if not caller.is_admin:
        q = q.where(DeletionRequest.requester_id == caller.orcid)
    if status is not None:
        q = q.where(DeletionRequest.status == status)
    rows, total = offset_page(db, q, limit, offset, order=DeletionRequest.id.desc())
    return off_envelope([deletion_record(r) for r in rows], total, limit, offset)


def _request(db: Session, caller: Caller, request_id: int) -> DeletionRequest:
    req = db.get(DeletionRequest, request_id)
    if req is None or not (caller.is_admin or req.requester_id == caller.orcid):
        raise HTTPException(404, f"Deletion request {request_id} not found")
    return req


@router.get("/deletion_requests/{request_id}", response_model=out.DeletionRequest)
def get_request(request_id: IntId, db: DB, caller: Who):
    return deletion_record(_request(db, caller, request_id))


@router.patch("/deletion_requests/{request_id}", response_model=out.DeletionRequest)
def review_request(request_id: IntId, status: str, db: DB, caller: Who,
                   reviewer_notes: Optional[str] = None):
    require_admin(caller)
    req = _request(db, caller, request_id)
    if status not in ("approved", "rejected"):
        raise HTTPException(422, "status must be 'approved' or 'rejected'")
    if req.status == status:
        return deletion_record(req)  # a retried review
    if req.status != "pending":
        raise HTTPException(409, f"Deletion request {request_id} was already {req.status}")
    req.status, req.reviewer_notes = status, reviewer_notes
    req.reviewer_id, req.review_time = caller.orcid, now_iso()
    db.flush()
    refresh_hidden(db, req.resource_id)
    db.commit()
    return deletion_record(req)


def _purge_uploads(request: Request, db: Session, dsid: str) -> None:
    """Pending uploads of a dataset: rows, parts and received bytes (their URIs then 404)."""
    storage = request.app.state.storage
    for up in db.scalars(select(Upload).where(Upload.dataset_mfid == dsid)).all():
        storage.part(up.upload_id).unlink(missing_ok=True)
        shutil.rmtree(storage.parts_dir(up.upload_id), ignore_errors=True)
        request.app.state.upload_states.pop(up.upload_id, None)
        db.execute(delete(UploadPart).where(UploadPart.upload_id == up.upload_id))
        db.delete(up)


def _purge(request: Request, db: Session, res: Union[Entity, Project]) -> None:
    """Remove a resource and everything hanging off it (links, files and their bytes, pending
    uploads, ingestion requests, metadata, ACLs), so an id re-used later starts clean. Deletion
    requests stay as the record (they only apply to a resource created before them)."""
    if isinstance(res, Project):
        db.execute(delete(Membership).where(Membership.group_name == res.project_id))
        db.execute(delete(Metadata).where(Metadata.unique_id == res.project_id))
        db.delete(res)
        return
    uid = res.unique_id
    storage = request.app.state.storage
    for f in db.scalars(select(File).where(File.dataset_mfid == uid)).all():
        for path in (storage.stored_file(f.mfid), storage.staged_file(f.mfid)):
            path.unlink(missing_ok=True)
        db.delete(f)
    _purge_uploads(request, db, uid)
    db.execute(delete(Link).where(or_(Link.parent_id == uid, Link.child_id == uid)))
    for model, col in ((Keyword, Keyword.dataset_id), (Thumbnail, Thumbnail.dataset_id),
                       (Metadata, Metadata.unique_id), (Acl, Acl.resource_id),
                       (IngestionRequest, IngestionRequest.dataset_mfid),
                       (ProcessingRequest, ProcessingRequest.dataset_mfid)):
        db.execute(delete(model).where(col == uid))
    db.delete(res)


@router.delete("/resources/{rid}", response_model=out.Detail)
def hard_delete(rid: str, request: Request, db: DB, caller: Who, force: bool = False):
    require_admin(caller)
    res = resolve(db, caller, rid)
    key = res.unique_id if isinstance(res, Entity) else res.project_id
    approved = db.scalar(select(DeletionRequest).where(DeletionRequest.resource_id == key,
                                                       DeletionRequest.status == "approved",
                                                       DeletionRequest.request_time >= res.creation_time)
                         .order_by(DeletionRequest.id.desc()))
    if approved is None and not force:
        raise HTTPException(409, f"Resource {key} has no approved deletion request (use force=true)")
    src = approved
    audit = DeletionAudit(
        request_id=src.id if src else None,
        resource_type=res.kind if isinstance(res, Entity) else "project", resource_id=key,
        resource_name=res.name if isinstance(res, Entity) else res.title,
        project_id=res.project_id, requester_id=src.requester_id if src else caller.orcid,
        reason=src.reason if src else "forced by admin", status="approved" if src else "forced",
        request_time=src.request_time if src else None, review_time=src.review_time if src else None,
        reviewer_id=src.reviewer_id if src else caller.orcid,
        reviewer_notes=src.reviewer_notes if src else None)
    db.add(audit)
    db.flush()  # the audit row is written before anything is removed
    _purge(request, db, res)
    db.commit()
    return {"detail": f"Resource {key} permanently deleted"}


@router.get("/deletion_audit", response_model=out.OffsetPage[out.DeletionAuditLog])
def list_audit(db: DB, caller: Who, resource_id: Optional[str] = None,
               requester_id: Optional[str] = None, reviewer_id: Optional[str] = None,
               limit: Limit = 100, offset: Offset = 0):
    require_admin(caller)
    q = select(DeletionAudit)
    for col, val in ((DeletionAudit.resource_id, resource_id), (DeletionAudit.requester_id, requester_id),
                     (DeletionAudit.reviewer_id, reviewer_id)):
        if val is not None:
            q = q.where(col == val)
    rows, total = offset_page(db, q, limit, offset, order=DeletionAudit.id.desc())
    return off_envelope([deletion_record(r) for r in rows], total, limit, offset)


@router.get("/deletion_audit/{audit_id}", response_model=out.DeletionAuditLog)
def get_audit(audit_id: IntId, db: DB, caller: Who):
    require_admin(caller)
    row = db.get(DeletionAudit, audit_id)
    if row is None:
        raise HTTPException(404, f"Audit entry {audit_id} not found")
    return deletion_record(row)
