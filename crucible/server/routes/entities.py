"""Routes shared by datasets and samples: list, create, get, patch, search, parents/children.

One factory builds both routers so the two kinds cannot drift apart. (No ``from __future__ import
annotations`` here: FastAPI must see the real body model type of each router.)
"""

from typing import Optional

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy import ColumnElement, func

from ..db import Entity
from ..deps import DB, Limit, Offset, SearchLimit, SearchQ, Who
from ..entities import create_entity, link_entities, patch_entity, unlink_entities
from .. import responses as out
from ..records import (
    entity_query, get_entity, keyset_page, linked_ids, off_envelope, offset_page, parse_bool, record,
    records,
)
from ..schemas import set_fields
from .base import api_router

RESERVED = {"limit", "offset", "cursor", "include_metadata", "include_links", "include_owner",
            "include_datasets"}


def list_filters(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if k not in RESERVED}


INCLUDES = ("include_metadata", "include_links", "include_owner")


def includes(request: Request) -> dict[str, bool]:
    """The ``include_*`` flags present in the query, parsed as booleans (any case)."""
    q = request.query_params
    return {key: parse_bool(q[key], key) for key in INCLUDES if key in q}


#: Per kind: its record model and the envelopes of its records (keyset list, search, neighbours).
MODELS: dict[str, tuple[type[BaseModel], type[BaseModel], type[BaseModel], type[BaseModel]]] = {
    "dataset": (out.Dataset, out.CursorPage[out.Dataset], out.SearchPage[out.Dataset],
                out.OffsetPage[out.Dataset]),
    "sample": (out.Sample, out.CursorPage[out.Sample], out.SearchPage[out.Sample],
               out.OffsetPage[out.Sample]),
}


def make_entity_router(kind: str, plural: str, model: type[BaseModel]) -> APIRouter:
    """The list/create/get/patch/search/graph-neighbour routes for ``kind``."""
    router = api_router(prefix=f"/{plural}", tags=[plural])
    rec, keyset, found, page = MODELS[kind]

    @router.get("", response_model=keyset, **out.SENT_ONLY)
    def list_(request: Request, db: DB, caller: Who, limit: Limit = 100,
              cursor: Optional[str] = None):
        q = entity_query(caller, kind, list_filters(request))
        rows, nxt, total = keyset_page(db, q, limit, cursor)
        return {"items": records(db, rows, caller, **includes(request)), "next_cursor": nxt,
                "total": total, "limit": limit}

    @router.post("", response_model=rec, **out.SENT_ONLY)
    def create(body: model, db: DB, caller: Who):  # type: ignore[valid-type]
        data = set_fields(body)
        if kind == "sample" and not (data.get("sample_name") or data.get("unique_id")):
            raise HTTPException(422, "A sample needs a sample_name or a unique_id")
        ent = create_entity(db, caller, kind, data)
        return record(db, ent)

    @router.get("/search", response_model=found, **out.SENT_ONLY)
    def search(db: DB, caller: Who, q: SearchQ, limit: SearchLimit = 20,
               project_id: Optional[str] = None):
        extra: list[ColumnElement[bool]] = [func.lower(Entity.name).like(f"%{q.lower()}%")]
        if project_id is not None:
            extra.append(Entity.project_id == project_id)
        query = entity_query(caller, kind, {}, *extra)
        rows, total = offset_page(db, query, limit, 0)
        return {"items": records(db, rows), "total": total, "limit": limit}

    @router.get("/{uid}", response_model=rec, **out.SENT_ONLY)
    def get(uid: str, request: Request, db: DB, caller: Who):
        return record(db, get_entity(db, caller, uid, kind), caller, **includes(request))

    @router.patch("/{uid}", response_model=rec, **out.SENT_ONLY)
    def patch(uid: str, body: model, db: DB, caller: Who):  # type: ignore[valid-type]
        ent = get_entity(db, caller, uid, kind)
        return record(db, patch_entity(db, caller, ent, set_fields(body)))

    def neighbours(uid: str, request: Request, db, caller, limit: int, offset: int, *, parents: bool):
        get_entity(db, caller, uid, kind)
        ids = linked_ids("child", parents_of=uid) if parents else linked_ids("child", children_of=uid)
        q = entity_query(caller, kind, list_filters(request), Entity.unique_id.in_(ids))
        rows, total = offset_page(db, q, limit, offset)
        return off_envelope(records(db, rows, caller, **includes(request)), total, limit, offset)

    @router.get("/{uid}/children", response_model=page, **out.SENT_ONLY)
    def children(uid: str, request: Request, db: DB, caller: Who, limit: Limit = 100,
                 offset: Offset = 0):
        return neighbours(uid, request, db, caller, limit, offset, parents=False)

    @router.get("/{uid}/parents", response_model=page, **out.SENT_ONLY)
    def parents(uid: str, request: Request, db: DB, caller: Who, limit: Limit = 100,
                offset: Offset = 0):
        return neighbours(uid, request, db, caller, limit, offset, parents=True)

    @router.post("/{parent}/children/{child}", response_model=out.LinkCreated)
    def add_child(parent: str, child: str, db: DB, caller: Who):
        return link_entities(db, caller, kind, parent, kind, child, "child")

    @router.delete("/{parent}/children/{child}", response_model=out.Detail)
    def remove_child(parent: str, child: str, db: DB, caller: Who):
        return unlink_entities(db, caller, kind, parent, kind, child, "child")

    return router

