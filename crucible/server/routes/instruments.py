"""Instruments: readable by every user, created and changed by admins."""

from __future__ import annotations

from fastapi import HTTPException, Request
from sqlalchemy import func, or_, select

from ..auth import require_admin
from ..db import Entity
from ..deps import DB, Limit, Offset, SearchLimit, SearchQ, Who
from ..entities import create_entity, patch_entity
from ..records import entity_query, get_entity, off_envelope, offset_page, records
from .. import responses as out
from ..schemas import InstrumentIn, set_fields
from .entities import includes, list_filters
from .base import api_router

router = api_router(prefix="/instruments", tags=["instruments"])


@router.get("", response_model=out.OffsetPage[out.Instrument], **out.SENT_ONLY)
def list_instruments(request: Request, db: DB, caller: Who, limit: Limit = 100, offset: Offset = 0):
    q = entity_query(caller, "instrument", list_filters(request))
    rows, total = offset_page(db, q, limit, offset, order=Entity.id)
    return off_envelope(records(db, rows, caller, **includes(request)), total, limit, offset)


@router.post("", response_model=out.Instrument, **out.SENT_ONLY)
def create_instrument(body: InstrumentIn, db: DB, caller: Who):
    require_admin(caller)
    missing = [k for k in ("instrument_name", "owner", "location") if not getattr(body, k)]
    if missing:
        raise HTTPException(422, f"Missing required fields: {', '.join(missing)}")
    taken = db.scalar(select(Entity.unique_id).where(Entity.kind == "instrument",
                                                     Entity.name == body.instrument_name))
    if taken is not None:
        raise HTTPException(409, f"Instrument {body.instrument_name!r} already exists ({taken})")
    ent = create_entity(db, caller, "instrument", set_fields(body))
    return records(db, [ent])[0]


@router.get("/search", response_model=out.SearchPage[out.Instrument], **out.SENT_ONLY)
def search_instruments(db: DB, caller: Who, q: SearchQ, limit: SearchLimit = 20):
    pat = f"%{q.lower()}%"
    cond = or_(func.lower(Entity.name).like(pat),
               func.lower(func.json_extract(Entity.fields, "$.instrument_type")).like(pat),
               func.lower(func.json_extract(Entity.fields, "$.manufacturer")).like(pat))
    rows, total = offset_page(db, entity_query(caller, "instrument", {}, cond), limit, 0)
    return {"items": records(db, rows), "total": total, "limit": limit}


@router.get("/{uid}", response_model=out.Instrument, **out.SENT_ONLY)
def get_instrument(uid: str, request: Request, db: DB, caller: Who):
    return records(db, [get_entity(db, caller, uid, "instrument")], caller, **includes(request))[0]


@router.patch("/{uid}", response_model=out.Instrument, **out.SENT_ONLY)
def patch_instrument(uid: str, body: InstrumentIn, db: DB, caller: Who):
    require_admin(caller)
    ent = get_entity(db, caller, uid, "instrument")
    return records(db, [patch_entity(db, caller, ent, set_fields(body))])[0]

