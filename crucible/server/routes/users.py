"""Users, access groups, service accounts."""

from __future__ import annotations

from typing import Optional

from fastapi import HTTPException, Request
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ...mfid import new_mfid
from ..accounts import add_member, ensure_project, find_user, remove_member, update_user, upsert_user
from ..auth import Caller, can_read, can_write, issue_key, require_admin, user_groups, visible_clause
from ..db import ApiKey, Entity, Project, User
from ..deps import DB, Limit, Offset, SearchLimit, SearchQ, Who
from ..records import off_envelope, offset_page, public_user, user_record
from ..schemas import ResolveIn, ServiceAccountIn, UserCreate, UserPatch, set_fields
from .. import responses as out
from .projects import project_record
from .base import api_router

router = api_router(tags=["users"])
USER_FILTERS = ("unique_id", "username", "first_name", "last_name", "email", "is_service_account")


def _user_or_404(db: Session, orcid: str) -> User:
    user = find_user(db, orcid=orcid)
    if user is None:
        raise HTTPException(404, f"User {orcid} not found")
    return user


def _self_or_admin(caller: Caller, orcid: str) -> None:
    if not caller.is_admin and caller.orcid != orcid:
        raise HTTPException(403, "Admin privileges required")


@router.get("/users", response_model=out.OffsetPage[out.User])
def list_users(request: Request, db: DB, caller: Who, limit: Limit = 100, offset: Offset = 0,
               permissive: bool = False):
    require_admin(caller)
    q = select(User)
    for name in USER_FILTERS:
        if name in request.query_params:
            raw = request.query_params[name]
            col = getattr(User, name)
            if name == "is_service_account":
                q = q.where(col.is_(raw.lower() in ("true", "1", "yes")))
            elif name == "email" and permissive:
                q = q.where(func.lower(col).like(f"%{raw.lower()}%"))
            else:
                q = q.where(col == raw)
    rows, total = offset_page(db, q, limit, offset, order=User.id)
    return off_envelope([user_record(u) for u in rows], total, limit, offset)


@router.post("/users", response_model=out.User)
def create_user(body: UserCreate, db: DB, caller: Who):
    """Upsert by ORCID; memberships in ``project_ids`` are (re-)applied."""
    require_admin(caller)
    info = body.user_info
    orcid = info.orcid or info.unique_id
    if not orcid:
        raise HTTPException(422, "user_info.orcid is required")
    user = upsert_user(db, orcid, first_name=info.first_name, last_name=info.last_name,
                       email=info.email, username=info.username,
                       is_service_account=info.is_service_account)
    for pid in body.project_ids:
        ensure_project(db, pid)
        add_member(db, user, pid)
    db.commit()
    return user_record(user)


@router.get("/users/search", response_model=out.SearchPage[out.PublicUser])
def search_users(db: DB, caller: Who, q: SearchQ, limit: SearchLimit = 20):
    pat = f"%{q.lower()}%"
    rows = db.scalars(select(User).where(or_(func.lower(User.username).like(pat),
                                             func.lower(User.first_name).like(pat),
                                             func.lower(User.last_name).like(pat)))
                      .order_by(User.id).limit(limit)).all()
    return {"items": [public_user(u) for u in rows], "limit": limit, "total": len(rows)}


@router.get("/users/by-username/{username}", response_model=out.PublicUser)
def by_username(username: str, db: DB, caller: Who):
    user = find_user(db, username=username)
    if user is None:
        raise HTTPException(404, f"User {username} not found")
    return public_user(user)


@router.post("/users/resolve", response_model=dict[str, out.PublicUser | None])
def resolve_users(body: ResolveIn, db: DB, caller: Who):
    out: dict[str, Optional[dict]] = {}
    for kind, values in (("orcid", body.orcids), ("username", body.usernames), ("email", body.emails)):
        for v in values:
            out[v] = public_user(find_user(db, **{kind: v}))
    return out


@router.get("/users/{orcid}", response_model=out.User)
def get_user(orcid: str, db: DB, caller: Who):
    _self_or_admin(caller, orcid)
    return user_record(_user_or_404(db, orcid))


@router.patch("/users/{orcid}", response_model=out.User)
def patch_user(orcid: str, body: UserPatch, db: DB, caller: Who):
    require_admin(caller)
    user = _user_or_404(db, orcid)
    fields = set_fields(body)
    if fields.get("is_service_account") is None:
        fields.pop("is_service_account", None)
    update_user(db, user, fields, keep_none=True)
    db.commit()
    return user_record(user)


@router.get("/users/{orcid}/projects", response_model=out.OffsetPage[out.Project], **out.SENT_ONLY)
def user_projects(orcid: str, db: DB, caller: Who, limit: Limit = 100, offset: Offset = 0):
    _self_or_admin(caller, orcid)
    user = _user_or_404(db, orcid)
    groups = user_groups(db, user)
    q = select(Project).where(Project.project_id.in_(groups))
    rows, total = offset_page(db, q, limit, offset, order=Project.seq)
    return off_envelope([project_record(db, caller, p, brief=True) for p in rows], total, limit, offset)


def _as_caller(db: Session, user: User) -> Caller:
    return Caller.of(db, user)


@router.get("/users/{orcid}/datasets", response_model=list[str])
def user_datasets(orcid: str, db: DB, caller: Who):
    require_admin(caller)
    who = _as_caller(db, _user_or_404(db, orcid))
    return list(db.scalars(select(Entity.unique_id).where(Entity.kind == "dataset", visible_clause(who))
                           .order_by(Entity.id)))


@router.get("/users/{orcid}/datasets/{dsid}", response_model=out.Access)
def user_dataset_access(orcid: str, dsid: str, db: DB, caller: Who):
    require_admin(caller)
    who = _as_caller(db, _user_or_404(db, orcid))
    ent = db.scalar(select(Entity).where(Entity.unique_id == dsid, Entity.kind == "dataset"))
    if ent is None:
        raise HTTPException(404, f"Dataset {dsid} not found")
    return {"read": can_read(db, who, ent), "write": can_write(db, who, ent)}


@router.get("/users/{orcid}/access_groups", response_model=list[str])
def user_access_groups(orcid: str, db: DB, caller: Who):
    _self_or_admin(caller, orcid)
    return sorted(user_groups(db, _user_or_404(db, orcid)))


@router.post("/users/{orcid}/access_groups/{group}", response_model=out.Membership)
def add_access_group(orcid: str, group: str, db: DB, caller: Who):
    require_admin(caller)
    add_member(db, _user_or_404(db, orcid), group)
    db.commit()
    return {"group_name": group, "user_unique_id": orcid}


@router.delete("/users/{orcid}/access_groups/{group}", response_model=out.Detail)
def remove_access_group(orcid: str, group: str, db: DB, caller: Who):
    require_admin(caller)
    if not remove_member(db, _user_or_404(db, orcid), group):
        raise HTTPException(404, f"{orcid} is not in group {group}")
    db.commit()
    return {"detail": f"User {orcid} removed from group {group}"}


def _key_info(db: Session, user: User) -> dict:
    row = db.scalar(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.created_at.desc()))
    return {"valid": row is not None, "created_at": row.created_at if row else None,
            "expires_at": row.expires_at if row else None}


@router.get("/users/{orcid}/apikey/verify", response_model=out.KeyInfo)
def verify_user_key(orcid: str, db: DB, caller: Who):
    require_admin(caller)
    return _key_info(db, _user_or_404(db, orcid))


@router.get("/account/apikey")
def account_apikey(caller: Who):
    raise HTTPException(404, "API keys are stored hashed and cannot be shown again")


@router.post("/service_accounts", response_model=out.ServiceAccountKey)
def create_service_account(body: ServiceAccountIn, db: DB, caller: Who):
    require_admin(caller)
    uid = body.unique_id or new_mfid()
    if find_user(db, orcid=uid) is not None or find_user(db, username=body.username) is not None:
        raise HTTPException(409, "Service account name or id is taken")
    user = upsert_user(db, uid, username=body.username, is_service_account=True)
    key = issue_key(db, user)
    db.commit()
    return {"unique_id": uid, "username": user.username, "is_service_account": True, "api_key": key}


@router.post("/service_accounts/{uid}/rotate_key", response_model=out.ServiceAccountKey)
def rotate_key(uid: str, db: DB, caller: Who):
    require_admin(caller)
    user = find_user(db, orcid=uid)
    if user is None or not user.is_service_account:
        raise HTTPException(404, f"Service account {uid} not found")
    db.query(ApiKey).filter(ApiKey.user_id == user.id).delete()
    key = issue_key(db, user)
    db.commit()
    return {"unique_id": uid, "username": user.username, "is_service_account": True, "api_key": key}
