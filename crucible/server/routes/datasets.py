"""Dataset-only routes: sample associations, keywords, thumbnails, processing requests."""

from __future__ import annotations

from typing import Optional

from fastapi import HTTPException, Request
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..auth import Caller, check_write, visible_clause
from ..db import Entity, Keyword, ProcessingRequest, Thumbnail, rowcount
from ..deps import DB, IntId, Limit, Offset, Who
from ..records import entity_query, get_entity, linked_ids, off_envelope, offset_page, records
from .. import responses as out
from ..schemas import ThumbnailIn
from ..entities import link_entities, unlink_entities
from .entities import includes, list_filters
from .base import api_router

router = api_router(tags=["datasets"])
PROCESSING = ("carrier_segmentation", "insitu_spec_aggregation", "rga_analysis", "mosaic_stitch")


@router.get("/datasets/{dsid}/samples", response_model=out.OffsetPage[out.Sample], **out.SENT_ONLY)
def dataset_samples(dsid: str, request: Request, db: DB, caller: Who, limit: Limit = 100,
                    offset: Offset = 0):
    get_entity(db, caller, dsid, "dataset")
    ids = linked_ids("assoc", parents_of=dsid)
    q = entity_query(caller, "sample", list_filters(request), Entity.unique_id.in_(ids))
    rows, total = offset_page(db, q, limit, offset)
    return off_envelope(records(db, rows, caller, **includes(request)), total, limit, offset)


@router.get("/samples/{sid}/datasets", response_model=list[out.Dataset], **out.SENT_ONLY)
def sample_datasets(sid: str, request: Request, db: DB, caller: Who, limit: Limit = 100):
    get_entity(db, caller, sid, "sample")
    ids = linked_ids("assoc", children_of=sid)
    q = entity_query(caller, "dataset", list_filters(request), Entity.unique_id.in_(ids))
    rows = list(db.scalars(q.order_by(Entity.id.desc()).limit(limit)))
    return records(db, rows, caller, **includes(request))


@router.post("/datasets/{dsid}/samples/{sid}", response_model=out.LinkCreated)
def add_sample(dsid: str, sid: str, db: DB, caller: Who):
    return link_entities(db, caller, "sample", sid, "dataset", dsid, "assoc")


@router.delete("/datasets/{dsid}/samples/{sid}", response_model=out.Detail)
def remove_sample(dsid: str, sid: str, db: DB, caller: Who):
    return unlink_entities(db, caller, "sample", sid, "dataset", dsid, "assoc")


def _visible_keywords(caller: Caller):
    """Keyword rows of datasets the caller may read (others' private keywords stay private)."""
    readable = select(Entity.unique_id).where(Entity.kind == "dataset", visible_clause(caller))
    return select(Keyword.keyword, func.count()).where(Keyword.dataset_id.in_(readable))


def _keyword_record(db, caller: Caller, word: str) -> dict:
    n = db.execute(_visible_keywords(caller).where(Keyword.keyword == word)).one()[1]
    return {"keyword": word, "num_datasets": n}


@router.get("/datasets/{dsid}/keywords", response_model=list[out.Keyword])
def get_keywords(dsid: str, db: DB, caller: Who):
    get_entity(db, caller, dsid, "dataset")
    words = db.scalars(select(Keyword.keyword).where(Keyword.dataset_id == dsid).order_by(Keyword.keyword))
    return [_keyword_record(db, caller, w) for w in words]


@router.post("/datasets/{dsid}/keywords", response_model=out.Keyword)
def add_keyword(dsid: str, keyword: str, db: DB, caller: Who):
    """Re-adding a keyword is a no-op (so a retried POST is harmless)."""
    word = keyword.strip()
    if not word or len(word) > 200:
        raise HTTPException(422, "keyword must be 1 to 200 characters")
    check_write(db, caller, get_entity(db, caller, dsid, "dataset"))
    db.execute(sqlite_insert(Keyword).values(dataset_id=dsid, keyword=word).on_conflict_do_nothing())
    db.commit()
    return _keyword_record(db, caller, word)


@router.get("/keywords", response_model=list[out.Keyword])
def all_keywords(db: DB, caller: Who, limit: Optional[Limit] = None):
    """Every keyword on a dataset the caller may read, with the number of such datasets."""
    q = _visible_keywords(caller).group_by(Keyword.keyword).order_by(Keyword.keyword)
    rows = db.execute(q.limit(limit) if limit else q).all()
    return [{"keyword": k, "num_datasets": n} for k, n in rows]


def _thumb(t: Thumbnail) -> dict:
    return {"id": t.id, "thumbnail_name": t.thumbnail_name, "thumbnail_b64str": t.thumbnail_b64str}


@router.get("/datasets/{dsid}/thumbnails", response_model=list[out.Thumbnail])
def get_thumbnails(dsid: str, db: DB, caller: Who):
    get_entity(db, caller, dsid, "dataset")
    return [_thumb(t) for t in db.scalars(select(Thumbnail).where(Thumbnail.dataset_id == dsid)
                                          .order_by(Thumbnail.id))]


@router.post("/datasets/{dsid}/thumbnails", response_model=out.Thumbnail)
def add_thumbnail(dsid: str, body: ThumbnailIn, db: DB, caller: Who):
    import base64
    import binascii

    check_write(db, caller, get_entity(db, caller, dsid, "dataset"))
    try:
        base64.b64decode(body.thumbnail_b64str, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(422, "thumbnail_b64str is not valid base64") from None
    same = db.scalar(select(Thumbnail).where(Thumbnail.dataset_id == dsid,
                                             Thumbnail.thumbnail_name == body.thumbnail_name,
                                             Thumbnail.thumbnail_b64str == body.thumbnail_b64str))
    if same is not None:  # a retried POST returns the thumbnail it made
        return _thumb(same)
    t = Thumbnail(dataset_id=dsid, thumbnail_name=body.thumbnail_name,
                  thumbnail_b64str=body.thumbnail_b64str)
    db.add(t)
    db.commit()
    return _thumb(t)


@router.delete("/datasets/{dsid}/thumbnails/{tid}", response_model=out.Detail)
def delete_thumbnail(dsid: str, tid: IntId, db: DB, caller: Who):
    check_write(db, caller, get_entity(db, caller, dsid, "dataset"))
    res = db.execute(delete(Thumbnail).where(Thumbnail.id == tid, Thumbnail.dataset_id == dsid))
    if rowcount(res) == 0:
        raise HTTPException(404, f"Thumbnail {tid} not found")
    db.commit()
    return {"detail": f"Thumbnail {tid} deleted"}


def _processing_request(dsid: str, request_type: str, db, caller) -> dict:
    """Processing requests finish at once locally: there is no analysis back end."""
    check_write(db, caller, get_entity(db, caller, dsid, "dataset"))
    req = ProcessingRequest(request_type=request_type, dataset_mfid=dsid, status="complete")
    db.add(req)
    db.commit()
    return {"id": req.id, "request_type": request_type, "dataset_mfid": dsid, "status": req.status,
            "time_created": req.time_created}


def _register_processing(name: str) -> None:
    def endpoint(dsid: str, db: DB, caller: Who):
        return _processing_request(dsid, name, db, caller)

    router.add_api_route(f"/datasets/{{dsid}}/{name}", endpoint, methods=["POST"],
                         name=f"processing_{name}", response_model=out.ProcessingRequest)


for _name in PROCESSING:
    _register_processing(_name)
