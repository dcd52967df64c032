"""Entity records: loading with access checks, JSON shapes, list filters and paging."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from sqlalchemy import ColumnElement, Select, String, cast, exists, func, or_, select
from sqlalchemy.orm import Session

from .auth import Caller, can_read, visible_clause
from .db import DeletionRequest, Entity, Keyword, Link, Metadata, User
from .errors import MAX_INT, Invalid, NotFound
from .schemas import FILTER_FIELDS

NAME_FIELD = {"dataset": "dataset_name", "sample": "sample_name", "instrument": "instrument_name"}
PROMOTED = {"unique_id", "project_id", "owner_orcid", "public", "creation_time", "modification_time"}
OUTPUT_FIELDS = {
    kind: [k for k in fields if k not in ("owner_user_id",)] for kind, fields in FILTER_FIELDS.items()
}
TRUE = {"true", "1", "yes", "on", "t", "y"}
FALSE = {"false", "0", "no", "off", "f", "n"}


def parse_bool(value: str, name: str = "value") -> bool:
    low = value.strip().lower()
    if low in TRUE:
        return True
    if low in FALSE:
        return False
    raise Invalid([{"loc": ["query", name], "msg": "Input should be a valid boolean",
                               "type": "bool_parsing"}])


def parse_int(value: str, name: str, minimum: int = -MAX_INT) -> int:
    """A query integer SQLite can hold; 422 otherwise."""
    try:
        number = int(value.strip())
    except ValueError:
        number = None
    if number is None or not minimum <= number <= MAX_INT:
        raise Invalid([{"loc": ["query", name], "type": "int_parsing",
                                   "msg": f"Input should be an integer between {minimum} and {MAX_INT}"}])
    return number


def parse_time(value: str, name: str) -> str:
    """Normalise an ISO 8601 query value to the stored UTC form; 422 if it is not one."""
    v = value.strip()
    if re.search(r" \d\d:\d\d$", v):  # an unencoded "+hh:mm" arrives as " hh:mm"
        v = v[:-6] + "+" + v[-5:]
    try:
        t = datetime.fromisoformat(v)
        if t.tzinfo is None:
            t = t.replace(tzinfo=timezone.utc)
        return t.astimezone(timezone.utc).isoformat(timespec="microseconds")
    except (ValueError, OverflowError):
        raise Invalid([{"loc": ["query", name], "msg": "Input should be an ISO 8601 datetime",
                                   "type": "datetime_parsing"}]) from None


def get_entity(db: Session, caller: Caller, unique_id: str, kind: str | None = None) -> Entity:
    """The entity if it exists, is of ``kind`` and is readable by the caller; else 404."""
    ent = db.scalar(select(Entity).where(Entity.unique_id == unique_id))
    if ent is None or (kind is not None and ent.kind != kind) or not can_read(db, caller, ent):
        label = (kind or "resource").capitalize()
        raise NotFound(f"{label} {unique_id} not found")
    return ent


def base_record(ent: Entity) -> dict[str, Any]:
    """The plain JSON record of an entity (every known field, nulls included)."""
    rec: dict[str, Any] = {k: None for k in OUTPUT_FIELDS[ent.kind]}
    rec.update(ent.fields or {})
    rec.update(unique_id=ent.unique_id, project_id=ent.project_id, owner_orcid=ent.owner_orcid,
               public=bool(ent.public), creation_time=ent.creation_time,
               modification_time=ent.modification_time, resource_type=ent.kind)
    rec[NAME_FIELD[ent.kind]] = ent.name
    if ent.kind == "instrument":
        rec.pop("owner_orcid", None)
        rec.pop("public", None)
        rec.pop("project_id", None)
    return rec


def user_record(u: User) -> dict[str, Any]:
    """The full User shape (for the user themselves, admins, and members seeing their lead)."""
    return {"id": u.id, "unique_id": u.unique_id, "orcid": u.unique_id, "username": u.username,
            "first_name": u.first_name, "last_name": u.last_name, "email": u.email,
            "is_service_account": bool(u.is_service_account), "is_admin": bool(u.is_admin)}


def public_user(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"unique_id": user.unique_id, "username": user.username,
            "first_name": user.first_name, "last_name": user.last_name}


def deletion_summary(req: DeletionRequest) -> dict[str, Any]:
    return {"id": req.id, "status": req.status, "reason": req.reason,
            "request_time": req.request_time, "requester_id": req.requester_id,
            "review_time": req.review_time, "reviewer_notes": req.reviewer_notes}


def links_of(db: Session, caller: Caller, unique_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Direct neighbours of each id as Link records, seen from that id; only neighbours the
    caller may read are listed (a private child's id and name stay private)."""
    out: dict[str, list[dict[str, Any]]] = {u: [] for u in unique_ids}
    if not unique_ids:
        return out
    rows = db.execute(select(Link).where(or_(Link.parent_id.in_(unique_ids),
                                             Link.child_id.in_(unique_ids)))).scalars().all()
    others = {r.child_id for r in rows} | {r.parent_id for r in rows}
    names = {e.unique_id: e for e in db.scalars(select(Entity).where(Entity.unique_id.in_(others),
                                                                     visible_clause(caller)))}
    for r in rows:
        for me, other, rel in ((r.parent_id, r.child_id, "child"), (r.child_id, r.parent_id, "parent")):
            if me in out and other in names:
                o = names[other]
                out[me].append({"unique_id": o.unique_id, "resource_type": o.kind, "name": o.name,
                                "relationship": "associated" if r.kind == "assoc" else rel})
    return out


def records(db: Session, ents: Iterable[Entity], caller: Caller | None = None, *,
            include_metadata: bool = False, include_links: bool = False,
            include_owner: bool = False) -> list[dict[str, Any]]:
    """JSON records for entities, with the optional parts fetched in one query each. Links need
    the ``caller`` (neighbours are filtered by what the caller may read)."""
    ents = list(ents)
    ids = [e.unique_id for e in ents]
    out = [base_record(e) for e in ents]
    if not ids:
        return out
    dels: dict[str, DeletionRequest] = {}
    with_requests = [e.last_deletion_id for e in ents if e.last_deletion_id is not None]
    if with_requests:
        for req in db.scalars(select(DeletionRequest).where(DeletionRequest.id.in_(with_requests))):
            dels[req.resource_id] = req
    if include_metadata:
        meta = {m.unique_id: m.data for m in db.scalars(select(Metadata).where(Metadata.unique_id.in_(ids)))}
    if include_links:
        if caller is None:
            raise ValueError("include_links needs the caller")
        links = links_of(db, caller, ids)
    if include_owner:
        owners = {u.unique_id: u for u in db.scalars(select(User).where(
            User.unique_id.in_({e.owner_orcid for e in ents if e.owner_orcid})))}
    for ent, rec in zip(ents, out):
        if ent.unique_id in dels:
            rec["deletion_request"] = deletion_summary(dels[ent.unique_id])
        if include_metadata:
            rec["scientific_metadata"] = meta.get(ent.unique_id)
        if include_links:
            rec["links"] = links[ent.unique_id]
        if include_owner and ent.kind != "instrument":  # an instrument's owner is its organisation
            rec["owner"] = public_user(owners.get(ent.owner_orcid) if ent.owner_orcid else None)
    return out


def record(db: Session, ent: Entity, caller: Caller | None = None, **include: bool) -> dict[str, Any]:
    return records(db, [ent], caller, **include)[0]


def _column_for(kind: str, field: str):
    if field == NAME_FIELD[kind]:
        return Entity.name
    if field in PROMOTED:
        return getattr(Entity, field)
    return None


def filter_conditions(kind: str, params: Mapping[str, str]) -> list[ColumnElement[bool]]:
    """SQL conditions for the known filters in ``params``; unknown names are ignored."""
    known = FILTER_FIELDS[kind]
    conds: list[ColumnElement[bool]] = []
    for name, raw in params.items():
        if name == "sample_mfid" and kind == "dataset":
            conds.append(Entity.unique_id.in_(linked_ids("assoc", children_of=raw)))
            continue
        if name == "dataset_mfid" and kind == "sample":
            conds.append(Entity.unique_id.in_(linked_ids("assoc", parents_of=raw)))
            continue
        if name.endswith("_is_null") and name[:-8] in known:
            field = name[:-8]
            col = _column_for(kind, field)
            expr = col if col is not None else func.json_extract(Entity.fields, f"$.{field}")
            conds.append(expr.is_(None) if parse_bool(raw, name) else expr.is_not(None))
            continue
        if name == "keyword" and kind == "dataset":
            pattern = f"%{raw.lower()}%"
            conds.append(exists().where(Keyword.dataset_id == Entity.unique_id,
                                        func.lower(Keyword.keyword).like(pattern)))
            continue
        for suffix, op in (("_gte", "__ge__"), ("_lte", "__le__")):
            base = name[: -len(suffix)] if name.endswith(suffix) else None
            if base in ("creation_time", "modification_time"):
                conds.append(getattr(getattr(Entity, base), op)(parse_time(raw, name)))
                break
        else:
            if name not in known or name in ("owner_user_id",):
                continue
            typ = known[name]
            col = _column_for(kind, name)
            if typ is bool:
                val = parse_bool(raw, name)
                conds.append(col.is_(val) if col is not None else
                             func.json_extract(Entity.fields, f"$.{name}") == (1 if val else 0))
            elif col is not None:
                conds.append(col == (parse_time(raw, name) if name.endswith("_time") else raw))
            elif typ is int:
                conds.append(func.json_extract(Entity.fields, f"$.{name}") == parse_int(raw, name))
            else:
                conds.append(cast(func.json_extract(Entity.fields, f"$.{name}"), String) == raw)
    return conds


def entity_query(caller: Caller, kind: str, params: Mapping[str, str], *extra) -> Select:
    """Visible, not-hidden entities of ``kind`` matching the filters in ``params``."""
    return select(Entity).where(Entity.kind == kind, Entity.hidden.is_(False),
                                visible_clause(caller), *filter_conditions(kind, params), *extra)


def count_rows(db: Session, q: Select) -> int:
    """How many rows ``q`` returns: one COUNT over it (which always answers exactly one row)."""
    return db.execute(select(func.count()).select_from(q.order_by(None).subquery())).scalar_one()


def keyset_page(db: Session, q: Select, limit: int, cursor: str | None) -> tuple[list[Entity], str | None, int]:
    """Newest first; ``next_cursor`` only when more rows follow (the keyset form)."""
    total = count_rows(db, q)
    if cursor:
        q = q.where(Entity.id < parse_int(cursor, "cursor", minimum=0))
    rows = list(db.scalars(q.order_by(Entity.id.desc()).limit(limit + 1)))
    nxt = str(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], nxt, total


def offset_page(db: Session, q: Select, limit: int, offset: int, order=None) -> tuple[list, int]:
    """(rows, total) for the ``off`` envelope."""
    total = count_rows(db, q)
    rows = list(db.scalars(q.order_by(order if order is not None else Entity.id.desc())
                           .limit(limit).offset(offset)))
    return rows, total


def off_envelope(items: list, total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"total": total, "limit": limit, "offset": offset, "items": items}


def linked_ids(kind_link: str, *, parents_of: str | None = None, children_of: str | None = None):
    """Subquery of ids linked to an entity (``child`` links or ``assoc`` sample→dataset)."""
    if parents_of is not None:
        return select(Link.parent_id).where(Link.child_id == parents_of, Link.kind == kind_link)
    return select(Link.child_id).where(Link.parent_id == children_of, Link.kind == kind_link)

