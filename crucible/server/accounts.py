"""Users, projects and memberships as plain functions (used by routes, the CLI and LocalCrucible)."""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .auth import issue_key
from .db import ApiKey, Membership, Project, User, now_iso, rowcount
from .errors import Conflict

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


def users_with_email(db: Session, email: str) -> list[User]:
    """Users whose email is ``email`` (ignoring case and surrounding blanks)."""
    return list(db.scalars(select(User).where(func.lower(func.trim(User.email)) == email.strip().lower())
                           .order_by(User.id).limit(2)))


def find_user(db: Session, *, orcid: str | None = None, email: str | None = None,
              username: str | None = None) -> User | None:
    """The user with this ORCID/service id, username or email (first given wins). An email
    matching more than one user (only possible in an old data dir) matches no one."""
    if orcid is not None:
        return db.scalar(select(User).where(User.unique_id == orcid))
    if username is not None:
        return db.scalar(select(User).where(User.username == username))
    if email is not None:
        found = users_with_email(db, email)
        return found[0] if len(found) == 1 else None
    return None


def check_identity_free(db: Session, user: User | None, *, email: str | None = None,
                        username: str | None = None) -> None:
    """Conflict if another user already has ``email`` (case-insensitive) or ``username``.

    An email identifies a person when a lead adds members by email or clients resolve one, so no
    two users may share it.
    """
    me = user.id if user is not None else None
    if email and any(u.id != me for u in users_with_email(db, email)):
        raise Conflict("That email belongs to another user")
    if username:
        other = db.scalar(select(User.id).where(User.username == username))
        if other is not None and other != me:
            raise Conflict(f"Username {username!r} is taken")


def update_user(db: Session, user: User, fields: dict[str, Any], *, keep_none: bool = False) -> User:
    """Set ``fields`` on ``user`` after checking that its email and username stay unique.
    ``None`` values are skipped unless ``keep_none`` (then they clear the field)."""
    fields = {k: v for k, v in fields.items() if keep_none or v is not None}
    check_identity_free(db, user, email=fields.get("email"), username=fields.get("username"))
    for k, v in fields.items():
        setattr(user, k, v)
    db.flush()
    return user


def upsert_user(db: Session, unique_id: str, **fields) -> User:
    """Create the user or update the given (non-None) fields."""
    user = db.scalar(select(User).where(User.unique_id == unique_id))
    if user is None:
        check_identity_free(db, None, email=fields.get("email"), username=fields.get("username"))
        user = User(unique_id=unique_id, is_admin=False, is_service_account=False)
        db.add(user)
    return update_user(db, user, fields)


def add_member(db: Session, user: User, group_name: str) -> None:
    """Idempotent, also when concurrent requests add the same member."""
    db.execute(sqlite_insert(Membership).values(user_id=user.id, group_name=group_name)
               .on_conflict_do_nothing())
    db.flush()


def remove_member(db: Session, user: User, group_name: str) -> bool:
    res = db.execute(delete(Membership).where(Membership.user_id == user.id,
                                              Membership.group_name == group_name))
    return rowcount(res) > 0


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
