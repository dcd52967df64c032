"""Graphs of linked datasets and samples. Edges point parent → child and
sample → dataset; both ``edges`` and ``links`` keys are sent (some clients read either)."""

from __future__ import annotations

from fastapi import HTTPException
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..auth import Caller, can_read
from ..db import Entity, Link, Project
from ..deps import DB, Who
from ..records import get_entity
from .. import responses as out
from .base import api_router

router = api_router(tags=["graphs"])
MAX_NODES = 10_000


def _node(e: Entity) -> dict:
    return {"id": e.unique_id, "unique_id": e.unique_id, "name": e.name, "entity_type": e.kind,
            "project_id": e.project_id}


def _graph(db: Session, caller: Caller, ids: set[str], links: list[Link]) -> dict:
    ents = {e.unique_id: e for e in db.scalars(select(Entity).where(Entity.unique_id.in_(ids)))
            if can_read(db, caller, e)}
    edges = [{"source": l.parent_id, "target": l.child_id,
              "relationship": "associated" if l.kind == "assoc" else "child"}
             for l in links if l.parent_id in ents and l.child_id in ents]
    return {"nodes": [_node(e) for e in ents.values()], "edges": edges, "links": edges}


def _links_touching(db: Session, ids: set[str]) -> list[Link]:
    return list(db.scalars(select(Link).where(or_(Link.parent_id.in_(ids), Link.child_id.in_(ids)))))


@router.get("/entity_graph_cte/{uid}", response_model=out.Graph)
def entity_graph(uid: str, db: DB, caller: Who, recursive: bool = False):
    get_entity(db, caller, uid)
    seen, frontier, links = {uid}, {uid}, {}
    while frontier and len(seen) < MAX_NODES:
        found = _links_touching(db, frontier)
        for l in found:
            links[(l.parent_id, l.child_id)] = l
        new = {x for l in found for x in (l.parent_id, l.child_id)} - seen
        seen |= new
        frontier = new if recursive else set()
    return _graph(db, caller, seen, list(links.values()))


@router.get("/project_graph/{project_id}", response_model=out.Graph)
def project_graph(project_id: str, db: DB, caller: Who):
    if db.scalar(select(Project.seq).where(Project.project_id == project_id)) is None:
        raise HTTPException(404, f"Project {project_id} not found")
    ids = set(db.scalars(select(Entity.unique_id).where(Entity.project_id == project_id,
                                                        Entity.hidden.is_(False))))
    links = [l for l in _links_touching(db, ids) if l.parent_id in ids and l.child_id in ids]
    return _graph(db, caller, ids, links)
