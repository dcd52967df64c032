"""Join requests (3.1): a user asks to join a project's access group; admins or the lead review."""

from __future__ import annotations

from typing import Optional

from fastapi import HTTPException
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..accounts import add_member
from ..auth import Caller
from ..db import JoinRequest, Project, User, now_iso
from ..deps import DB, IntId, Limit, Offset, Who
from ..records import off_envelope, offset_page
from .. import responses as out
from .base import api_router

router = api_router(tags=["join requests"])
FIELDS = ("id", "group_name", "requester_id", "reason", "status", "request_time", "review_time",
          "reviewer_id", "reviewer_notes")


class JoinIn(BaseModel):
    reason: Optional[str]


class ReviewIn(BaseModel):
    status: str
    reviewer_notes: Optional[str] = None


def join_record(r: JoinRequest) -> dict:
    return {k: getattr(r, k) for k in FIELDS}


def _may_review(db: Session, caller: Caller, group_name: str) -> bool:
    lead = db.scalar(select(Project.project_lead_orcid).where(Project.project_id == group_name))
    return caller.is_admin or (lead is not None and lead == caller.orcid)


def _page(db: Session, q, limit: int, offset: int) -> dict:
    rows, total = offset_page(db, q, limit, offset, order=JoinRequest.id.desc())
    return off_envelope([join_record(r) for r in rows], total, limit, offset)


@router.post("/access_groups/{group_name}/join", response_model=out.JoinRequest)
def join(group_name: str, body: JoinIn, db: DB, caller: Who):
    if db.scalar(select(Project.seq).where(Project.project_id == group_name)) is None:
        raise HTTPException(404, f"Access group {group_name} not found")
    if group_name in caller.groups:
        raise HTTPException(409, f"Already a member of {group_name}")
    pending = db.scalar(select(JoinRequest.id).where(JoinRequest.group_name == group_name,
                                                     JoinRequest.requester_id == caller.orcid,
                                                     JoinRequest.status == "pending"))
    if pending is not None:
        raise HTTPException(409, f"A join request for {group_name} is already pending ({pending})")
    req = JoinRequest(group_name=group_name, requester_id=caller.orcid, reason=body.reason)
    db.add(req)
    db.commit()
    return join_record(req)


@router.get("/join_requests", response_model=out.OffsetPage[out.JoinRequest])
def list_joins(db: DB, caller: Who, group_name: Optional[str] = None, status: Optional[str] = None,
               requester_id: Optional[str] = None, limit: Limit = 100, offset: Offset = 0):
    if not (caller.is_admin or (group_name is not None and _may_review(db, caller, group_name))):
        raise HTTPException(403, "Only admins and the group's lead list join requests")
    q = select(JoinRequest)
    for col, val in ((JoinRequest.group_name, group_name), (JoinRequest.status, status),
                     (JoinRequest.requester_id, requester_id)):
        if val is not None:
            q = q.where(col == val)
    return _page(db, q, limit, offset)


@router.get("/account/join_requests", response_model=out.OffsetPage[out.JoinRequest])
def my_joins(db: DB, caller: Who, status: Optional[str] = None, limit: Limit = 100,
             offset: Offset = 0):
    q = select(JoinRequest).where(JoinRequest.requester_id == caller.orcid)
    if status is not None:
        q = q.where(JoinRequest.status == status)
    return _page(db, q, limit, offset)


@router.patch("/join_requests/{request_id}", response_model=out.JoinRequest)
def review_join(request_id: IntId, body: ReviewIn, db: DB, caller: Who):
    req = db.get(JoinRequest, request_id)
    if req is None:
        raise HTTPException(404, f"Join request {request_id} not found")
    if not _may_review(db, caller, req.group_name):
        raise HTTPException(403, "Only admins and the group's lead review join requests")
    if body.status not in ("approved", "rejected"):
        raise HTTPException(422, "status must be 'approved' or 'rejected'")
    if req.status != "pending":
        raise HTTPException(409, f"Join request {request_id} was already {req.status}")
    req.status, req.reviewer_notes = body.status, body.reviewer_notes
    req.reviewer_id, req.review_time = caller.orcid, now_iso()
    if body.status == "approved":
        user = db.scalar(select(User).where(User.unique_id == req.requester_id))
        if user is not None:
            add_member(db, user, req.group_name)
    db.commit()
    return join_record(req)
