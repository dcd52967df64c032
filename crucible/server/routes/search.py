"""Metadata search: every term (case-insensitive) must occur in the keys or values.

A simple substring match stands in for the real service's stemmed full-text search; results are
ranked by how often the terms occur, across all resource types the caller may read.
"""

from __future__ import annotations

import json

from fastapi import Query
from sqlalchemy import select
from typing_extensions import Annotated

from ..auth import visible_clause
from ..db import Entity, Metadata
from ..deps import DB, Who
from .. import responses as out
from .base import api_router

router = api_router(tags=["search"])
MetaLimit = Annotated[int, Query(ge=1, le=200)]


def _matches(db, caller, q: str, limit: int) -> list[tuple[Entity, dict, int]]:
    terms = [t.lower() for t in q.split() if t]
    rows = db.execute(select(Entity, Metadata.data).join(Metadata, Metadata.unique_id == Entity.unique_id)
                      .where(Entity.hidden.is_(False), visible_clause(caller))).all()
    hits = []
    for ent, data in rows:
        text = json.dumps(data, sort_keys=True).lower()
        if all(t in text for t in terms):
            hits.append((ent, data, sum(text.count(t) for t in terms)))
    hits.sort(key=lambda h: (-h[2], -h[0].id))
    return hits[:limit]


@router.get("/resources/metadata/search", response_model=out.SearchPage[out.MetadataHit])
def metadata_search(db: DB, caller: Who, q: Annotated[str, Query(min_length=3)], limit: MetaLimit = 20):
    items = [{"unique_id": e.unique_id, "resource_type": e.kind, "name": e.name,
              "owner_orcid": e.owner_orcid, "creation_time": e.creation_time,
              "modification_time": e.modification_time, "rank": rank, "scientific_metadata": data}
             for e, data, rank in _matches(db, caller, q, limit)]
    return {"items": items, "total": len(items), "limit": limit}


@router.get("/scientific_metadata/search", response_model=list[out.LegacyMetadataDoc])
def legacy_metadata_search(db: DB, caller: Who, q: Annotated[str, Query(min_length=3)],
                           limit: MetaLimit = 50):
    return [{"dataset_mfid": e.unique_id, "unique_id": e.unique_id, "scientific_metadata": data}
            for e, data, _ in _matches(db, caller, q, limit)]
