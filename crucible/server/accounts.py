"""Users, projects and memberships as plain functions (used by routes, the CLI and LocalCrucible)."""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .auth import issue_key
from .db import ApiKey, Membership, Project, User, now_iso

ADMIN_ORCID = "0000-0000-0000-0000"


def ensure_project(db: Session, project_id: str, *, organization: str = "local",
                   title: str | None = None, lead_orcid: str | None = None) -> Project:
    proj = db.scalar(select(Project).where(Project.project_id == project_id))
    if proj is None:
        proj = Project(project_id=project_id, organization=organization, title=title or project_id,
                       status="active", project_lead_orcid=lead_orcid)
        db.add(proj)
        db.flush()
    return proj


def upsert_user(db: Session, unique_id: str, **fields) -> User:
    """Create the user or update the given (non-None) fields."""
    user = db.scalar(select(User).where(User.unique_id == unique_id))
    if user is None:
        user = User(unique_id=unique_id, is_admin=False, is_service_account=False)
        db.add(user)
    for k, v in fields.items():
        if v is not None:
            setattr(user, k, v)
    db.flush()
    return user


def add_member(db: Session, user: User, group_name: str) -> None:
    if db.get(Membership, (user.id, group_name)) is None:
        db.add(Membership(user_id=user.id, group_name=group_name))
        db.flush()


def remove_member(db: Session, user: User, group_name: str) -> bool:
    res = db.execute(delete(Membership).where(Membership.user_id == user.id,
                                              Membership.group_name == group_name))
    return res.rowcount > 0


def create_user_with_key(db: Session, orcid: str, *, first_name: str | None = None,
                         last_name: str | None = None, email: str | None = None,
                         projects: Iterable[str] = (), admin: bool = False) -> str:
    """Upsert a user, make it a member of ``projects`` (created when missing), return a new key."""
    user = upsert_user(db, orcid, first_name=first_name, last_name=last_name, email=email)
    if admin:
        user.is_admin = True
    for pid in projects:
        ensure_project(db, pid, lead_orcid=orcid)
        add_member(db, user, pid)
    key = issue_key(db, user)
    db.commit()
    return key


def bootstrap_admin(db: Session, key: str) -> None:
    """Make sure the bootstrap admin exists and ``key`` is its (only) bootstrap key."""
    user = upsert_user(db, ADMIN_ORCID, first_name="Local", last_name="Admin", username="admin")
    user.is_admin = True
    db.execute(delete(ApiKey).where(ApiKey.user_id == user.id, ApiKey.bootstrap.is_(True)))
    db.flush()
    issue_key(db, user, key=key, bootstrap=True)
    user.creation_time = user.creation_time or now_iso()
    db.commit()
