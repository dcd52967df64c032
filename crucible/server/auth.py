"""API keys (stored hashed), the calling user, and who may read and write a resource."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from fastapi import HTTPException
from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session

from .db import Acl, ApiKey, Entity, Membership, User, now_iso
from .errors import Forbidden


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh API key: 256 random bits, URL-safe."""
    return "ck_" + secrets.token_urlsafe(32)


def issue_key(db: Session, user: User, *, key: str | None = None, bootstrap: bool = False) -> str:
    """Store the hash of ``key`` (or of a new key) for ``user``; return the plain key."""
    key = key or new_key()
    h = hash_key(key)
    if db.get(ApiKey, h) is None:
        db.add(ApiKey(key_hash=h, user_id=user.id, bootstrap=bootstrap))
    return key


@dataclass(frozen=True)
class Caller:
    """Who is calling: user id, ORCID/mfid, admin flag and the access groups they belong to."""

    user_id: int
    orcid: str
    is_admin: bool
    groups: frozenset[str]
    key_created_at: str | None = None
    is_service: bool = False

    @property
    def may_act_for_others(self) -> bool:
        """Admins and (admin-made) service accounts may set another user as owner."""
        return self.is_admin or self.is_service

    def load_user(self, db: Session) -> User:
        """The caller's user row; 401 if it is gone (the key then names no one)."""
        user = db.get(User, self.user_id)
        if user is None:
            raise HTTPException(401, "Invalid API key", headers={"WWW-Authenticate": "Bearer"})
        return user

    @classmethod
    def of(cls, db: Session, user: User) -> "Caller":
        return cls(user.id, user.unique_id, bool(user.is_admin), user_groups(db, user),
                   is_service=bool(user.is_service_account))


_SEP = "\x1f"
_AUTH_SQL = (
    "SELECT u.id, u.unique_id, u.is_admin, k.expires_at, k.created_at, "
    "(SELECT group_concat(m.group_name, char(31)) FROM memberships m WHERE m.user_id = u.id), "
    "u.is_service_account "
    "FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?"
)


def authenticate(db: Session, authorization: str | None) -> Caller:
    """Resolve a ``Bearer`` header to a Caller; 401 when missing or unknown.

    One plain SQL statement (hot path: every request), not ORM loads.
    """
    if not authorization or not authorization.lower().startswith("bearer "):
        raise HTTPException(401, "Missing API key (Authorization: Bearer <key>)",
                            headers={"WWW-Authenticate": "Bearer"})
    key = authorization[7:].strip()
    row = db.connection().exec_driver_sql(_AUTH_SQL, (hash_key(key),)).first() if key else None
    if row is None or (row[3] is not None and row[3] < now_iso()):
        raise HTTPException(401, "Invalid API key", headers={"WWW-Authenticate": "Bearer"})
    groups = frozenset([*(row[5].split(_SEP) if row[5] else ()), row[1]])
    return Caller(row[0], row[1], bool(row[2]), groups, key_created_at=row[4],
                  is_service=bool(row[6]))


def user_groups(db: Session, user: User) -> frozenset[str]:
    names = db.scalars(select(Membership.group_name).where(Membership.user_id == user.id))
    return frozenset([*names, user.unique_id])


def require_admin(caller: Caller) -> None:
    if not caller.is_admin:
        raise Forbidden("Admin privileges required")


def _acl(db: Session, caller: Caller, resource_id: str, right: str) -> bool:
    col = Acl.read if right == "read" else Acl.write
    q = select(Acl.resource_id).where(Acl.resource_id == resource_id,
                                      Acl.group_name.in_(caller.groups), col.is_(True))
    return db.execute(q.limit(1)).first() is not None


def can_read(db: Session, caller: Caller, ent: Entity) -> bool:
    if caller.is_admin or ent.public or ent.owner_orcid == caller.orcid:
        return True
    if ent.project_id is not None and ent.project_id in caller.groups:
        return True
    return _acl(db, caller, ent.unique_id, "read")


def can_write(db: Session, caller: Caller, ent: Entity) -> bool:
    if caller.is_admin or ent.owner_orcid == caller.orcid:
        return True
    if ent.project_id is not None and ent.project_id in caller.groups:
        return True
    return _acl(db, caller, ent.unique_id, "write")


def visible_clause(caller: Caller):
    """SQL condition on ``Entity`` for rows the caller may read."""
    if caller.is_admin:
        return ~false()
    acl = select(Acl.resource_id).where(Acl.group_name.in_(caller.groups), Acl.read.is_(True))
    return or_(Entity.public.is_(True), Entity.owner_orcid == caller.orcid,
               Entity.project_id.in_(caller.groups), Entity.unique_id.in_(acl))


def check_write(db: Session, caller: Caller, ent: Entity) -> None:
    """403 unless the caller may change ``ent`` (read access is checked by the loader)."""
    if not can_write(db, caller, ent):
        raise Forbidden(f"Not allowed to modify {ent.kind} {ent.unique_id}")
