"""Projects and their members. Projects are access groups named by ``project_id``."""

from __future__ import annotations

import uuid
from typing import Any, Optional

from fastapi import HTTPException
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..accounts import add_member, find_user, remove_member
from ..auth import Caller, require_admin
from ..db import Membership, Metadata, Project, User, now_iso
from ..deps import DB, Limit, Offset, SearchLimit, SearchQ, Who
from ...mfid import is_mfid, name_mfid
from ..records import off_envelope, offset_page, public_user, user_record
from .. import responses as out
from ..schemas import ProjectIn, set_fields
from .base import api_router

router = api_router(prefix="/projects", tags=["projects"])
#: Namespace of project MFIDs: stored data and clients hold ids derived with it, never change it.
_PROJECT_NS = uuid.UUID("5f0e2c7a-33d1-4c1e-9a57-2f9b4c1d8e60")


def project_mfid(project_id: str) -> str:
    """The project's MFID (3.3 clients address projects by it): derived from the id, so stable."""
    return name_mfid(_PROJECT_NS, project_id)


def get_project(db: Session, caller: Caller, project_id: str) -> Project:
    """Projects are readable by anyone with a key (3.1); details depend on membership."""
    proj = db.scalar(select(Project).where(Project.project_id == project_id))
    if proj is None and is_mfid(project_id):
        proj = next((p for p in db.scalars(select(Project))
                     if project_mfid(p.project_id) == project_id), None)
    if proj is None:
        raise HTTPException(404, f"Project {project_id} not found")
    return proj


def project_record(db: Session, caller: Caller, p: Project, *, include_metadata: bool = False,
                   brief: bool = False) -> dict:
    member = caller.is_admin or p.project_id in caller.groups
    rec: dict[str, Any] = {
        "unique_id": project_mfid(p.project_id), "project_id": p.project_id,
        "organization": p.organization, "title": p.title,
        "status": p.status, "project_lead_orcid": p.project_lead_orcid,
        "project_lead_email": p.project_lead_email if member else None,
        "creation_time": p.creation_time, "modification_time": p.modification_time,
        "resource_type": "project"}
    if brief:
        return rec
    lead = db.scalar(select(User).where(User.unique_id == p.project_lead_orcid)) if p.project_lead_orcid else None
    rec["project_lead_name"] = " ".join(x for x in (lead.first_name, lead.last_name) if x) if lead else None
    rec["project_lead_username"] = lead.username if lead else None
    rec["lead"] = (user_record(lead) if member else public_user(lead)) if lead else None
    if include_metadata and member:
        row = db.get(Metadata, p.project_id)
        rec["scientific_metadata"] = row.data if row else None
    return rec


@router.get("", response_model=out.OffsetPage[out.Project], **out.SENT_ONLY)
def list_projects(db: DB, caller: Who, limit: Limit = 100, offset: Offset = 0,
                  include_metadata: bool = False, project_id: Optional[str] = None):
    q = select(Project)
    if project_id is not None:  # exact, ignoring case: how 3.3 clients resolve a slug
        q = q.where(func.lower(Project.project_id) == project_id.lower())
    if not caller.is_admin:
        q = q.where(Project.project_id.in_(caller.groups))
    rows, total = offset_page(db, q, limit, offset, order=Project.seq)
    return off_envelope([project_record(db, caller, p, include_metadata=include_metadata) for p in rows],
                        total, limit, offset)


@router.post("", response_model=out.Project, **out.SENT_ONLY)
def create_project(body: ProjectIn, db: DB, caller: Who):
    require_admin(caller)
    if not body.project_id or not body.organization:
        raise HTTPException(422, "project_id and organization are required")
    if db.scalar(select(Project.seq).where(Project.project_id == body.project_id)) is not None:
        raise HTTPException(409, f"Project {body.project_id} already exists")
    p = Project(**{k: v for k, v in set_fields(body).items()})
    if p.status is None:
        p.status = "active"
    db.add(p)
    if body.project_lead_orcid:
        lead = db.scalar(select(User).where(User.unique_id == body.project_lead_orcid))
        if lead is not None:
            db.flush()
            add_member(db, lead, p.project_id)
            p.project_lead_email = p.project_lead_email or lead.email
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise HTTPException(409, f"Project {body.project_id} already exists") from None
    return project_record(db, caller, p)


@router.get("/search", response_model=out.SearchPage[out.Project], **out.SENT_ONLY)
def search_projects(db: DB, caller: Who, q: SearchQ, limit: SearchLimit = 20):
    pat = f"%{q.lower()}%"
    rows = db.scalars(select(Project).where(or_(func.lower(Project.project_id).like(pat),
                                                func.lower(Project.title).like(pat)))
                      .order_by(Project.seq).limit(limit)).all()
    return {"items": [project_record(db, caller, p, brief=True) for p in rows], "limit": limit,
            "total": len(rows)}


@router.get("/{project_id}", response_model=out.Project, **out.SENT_ONLY)
def read_project(project_id: str, db: DB, caller: Who, include_metadata: bool = False):
    return project_record(db, caller, get_project(db, caller, project_id),
                          include_metadata=include_metadata)


@router.patch("/{project_id}", response_model=out.Project, **out.SENT_ONLY)
def patch_project(project_id: str, body: ProjectIn, db: DB, caller: Who):
    require_admin(caller)
    p = get_project(db, caller, project_id)
    for k, v in set_fields(body).items():
        if k in ("organization", "status", "title", "project_lead_email", "project_lead_orcid"):
            setattr(p, k, v)
    p.modification_time = now_iso()
    db.commit()
    return project_record(db, caller, p)


def _members(db: Session, p: Project) -> list[User]:
    return list(db.scalars(select(User).join(Membership, Membership.user_id == User.id)
                           .where(Membership.group_name == p.project_id,
                                  User.unique_id != (p.project_lead_orcid or "")).order_by(User.id)))


def _member_admin(db: Session, caller: Caller, p: Project) -> None:
    if not (caller.is_admin or caller.orcid == p.project_lead_orcid):
        raise HTTPException(403, "Only admins and the project lead manage members")


@router.get("/{project_id}/users", response_model=out.OffsetPage[out.User])
def project_users(project_id: str, db: DB, caller: Who, limit: Limit = 100, offset: Offset = 0):
    p = get_project(db, caller, project_id)
    if not caller.is_admin and project_id not in caller.groups:
        raise HTTPException(403, f"Not a member of project {project_id}")
    users = _members(db, p)
    return off_envelope([user_record(u) for u in users[offset:offset + limit]], len(users), limit, offset)


def _target(db: Session, orcid: str, email: Optional[str], username: Optional[str]) -> User:
    if orcid == "me":
        user = find_user(db, email=email, username=username)
    else:
        user = find_user(db, orcid=orcid)
    if user is None:
        raise HTTPException(404, "User not found")
    return user


@router.post("/{project_id}/users/{orcid}", response_model=list[out.User])
def add_project_user(project_id: str, orcid: str, db: DB, caller: Who,
                     email: Optional[str] = None, username: Optional[str] = None):
    p = get_project(db, caller, project_id)
    _member_admin(db, caller, p)
    add_member(db, _target(db, orcid, email, username), project_id)
    db.commit()
    return [user_record(u) for u in _members(db, p)]


@router.delete("/{project_id}/users/{orcid}", response_model=out.Detail)
def remove_project_user(project_id: str, orcid: str, db: DB, caller: Who,
                        email: Optional[str] = None, username: Optional[str] = None):
    p = get_project(db, caller, project_id)
    _member_admin(db, caller, p)
    user = _target(db, orcid, email, username)
    if not remove_member(db, user, project_id):
        raise HTTPException(404, f"{user.unique_id} is not a member of {project_id}")
    db.commit()
    return {"detail": f"User {user.unique_id} removed from project {project_id}"}
