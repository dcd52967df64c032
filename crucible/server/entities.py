"""Create, update and link datasets, samples and instruments: one mechanism for all three kinds.

Services: they raise domain errors (``errors.py``), which the app maps to HTTP in one place.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..mfid import new_mfid
from .auth import Caller, check_write
from .db import Entity, Link, Project, now_iso, rowcount
from .errors import Conflict, Forbidden, Invalid, NotFound
from .records import NAME_FIELD, get_entity

ALIASES = {"creation_date": "timestamp", "date_created": "timestamp"}
DROP = {"owner_user_id"}


def _normalise(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    for alias, target in ALIASES.items():
        if alias in data:
            value = data.pop(alias)
            if data.get(target) is None and value is not None:
                data[target] = value
    for k in DROP:
        data.pop(k, None)
    return data


def check_project(db: Session, caller: Caller, project_id: str | None) -> None:
    """A resource may only be put in an existing project the caller belongs to."""
    if project_id is None:
        return
    if db.scalar(select(Project.seq).where(Project.project_id == project_id)) is None:
        raise NotFound(f"Project {project_id} not found")
    if not caller.is_admin and project_id not in caller.groups:
        raise Forbidden(f"Not a member of project {project_id}")


def check_owner(caller: Caller, owner_orcid: Any) -> None:
    """Only admins and service accounts may name someone else as a resource's owner."""
    if owner_orcid is not None and owner_orcid != caller.orcid and not caller.may_act_for_others:
        raise Forbidden("owner_orcid must be your own ORCID (only admins and service "
                                 "accounts create or move resources on behalf of others)")


def _check_patch_rights(db: Session, caller: Caller, ent: Entity, data: dict[str, Any]) -> None:
    """Owner and project decide who keeps access, so changing them takes more than write access:
    a new owner only by admins/service accounts; a new project only by the owner or them."""
    if "owner_orcid" in data and data["owner_orcid"] != ent.owner_orcid:
        if not caller.may_act_for_others:
            raise Forbidden("Only admins and service accounts change a resource's owner")
        if data["owner_orcid"] is None:
            raise Invalid("owner_orcid cannot be removed")
    if "project_id" in data and data["project_id"] != ent.project_id:
        if ent.kind == "instrument":
            data.pop("project_id")
            return
        owner = ent.owner_orcid is None or ent.owner_orcid == caller.orcid
        if not (owner or caller.may_act_for_others):
            raise Forbidden("Only the owner (or an admin) moves a resource to another project")
        check_project(db, caller, data["project_id"])


def _apply(ent: Entity, data: dict[str, Any]) -> None:
    fields = dict(ent.fields or {})
    for key, value in data.items():
        if key == NAME_FIELD[ent.kind]:
            ent.name = value
        elif key in ("project_id", "owner_orcid"):
            setattr(ent, key, value)
        elif key == "public":
            ent.public = bool(value)
        elif key in ("unique_id", "creation_time", "modification_time", "resource_type"):
            continue
        else:
            fields[key] = value
    ent.fields = fields


def create_entity(db: Session, caller: Caller, kind: str, data: dict[str, Any]) -> Entity:
    """Insert a new entity; 409 if the client-supplied ``unique_id`` is taken."""
    data = _normalise(kind, data)
    unique_id = data.pop("unique_id", None) or new_mfid()
    if kind == "instrument":
        data["public"] = True
        data.pop("project_id", None)
    else:
        check_project(db, caller, data.get("project_id"))
        if not data.get("owner_orcid"):
            data["owner_orcid"] = caller.orcid
        check_owner(caller, data["owner_orcid"])
    if db.scalar(select(Entity.id).where(Entity.unique_id == unique_id)) is not None:
        raise Conflict(f"A resource with unique_id {unique_id} already exists")
    now = now_iso()
    ent = Entity(unique_id=unique_id, kind=kind, public=False, fields={},
                 creation_time=now, modification_time=now)
    _apply(ent, {k: v for k, v in data.items() if v is not None or k in ("public",)})
    if ent.public is None:
        ent.public = False
    db.add(ent)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise Conflict(f"A resource with unique_id {unique_id} already exists") from None
    return ent


def patch_entity(db: Session, caller: Caller, ent: Entity, data: dict[str, Any]) -> Entity:
    """Apply the sent fields; project moves need membership of the new project."""
    check_write(db, caller, ent)
    data = _normalise(ent.kind, data)
    data.pop("unique_id", None)
    _check_patch_rights(db, caller, ent, data)
    if "public" in data and data["public"] is None:
        data.pop("public")
    _apply(ent, data)
    ent.modification_time = now_iso()
    db.commit()
    return ent


def link_entities(db: Session, caller: Caller, kind_a: str, a: str, kind_b: str, b: str,
                  link_kind: str) -> dict[str, Any]:
    """Create ``a``→``b`` (idempotent: re-linking answers 200 with the same record)."""
    if a == b:
        raise Invalid("A resource cannot be linked to itself")
    ea = get_entity(db, caller, a, kind_a)
    eb = get_entity(db, caller, b, kind_b)
    check_write(db, caller, ea if link_kind == "child" else eb)
    db.execute(sqlite_insert(Link).values(parent_id=a, child_id=b, kind=link_kind)
               .on_conflict_do_nothing())  # concurrent identical requests all succeed
    db.commit()
    return {"parent_id": a, "child_id": b, "parent_type": ea.kind, "child_type": eb.kind,
            "relationship": "associated" if link_kind == "assoc" else "child"}


def unlink_entities(db: Session, caller: Caller, kind_a: str, a: str, kind_b: str, b: str,
                    link_kind: str) -> dict[str, Any]:
    ea = get_entity(db, caller, a, kind_a)
    eb = get_entity(db, caller, b, kind_b)
    check_write(db, caller, ea if link_kind == "child" else eb)
    res = db.execute(delete(Link).where(Link.parent_id == a, Link.child_id == b, Link.kind == link_kind))
    if rowcount(res) == 0:
        raise NotFound(f"No link between {a} and {b}")
    db.commit()
    return {"detail": f"Link between {a} and {b} removed"}
