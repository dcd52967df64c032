"""Generic resource endpoints: type detection, records, links, metadata, access groups."""

from __future__ import annotations

import json
from typing import Any, Union

from fastapi import Body, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth import Caller, check_write, require_admin
from ..db import Acl, Entity, Metadata, Project
from ..deps import DB, Who
from ..entities import patch_entity
from ..records import get_entity, links_of, record
from .. import responses as out
from .entities import includes
from .projects import get_project, project_record
from .base import api_router

router = api_router(tags=["resources"])
#: Metadata documents may not grow past this by repeated merges (a single body is capped too).
MAX_METADATA_CHARS = 4 * 1024**2


def resolve(db: Session, caller: Caller, rid: str) -> Union[Entity, Project]:
    """An entity (by mfid) or a project (by project_id) the caller may read; else 404."""
    ent = db.scalar(select(Entity).where(Entity.unique_id == rid))
    if ent is not None:
        return get_entity(db, caller, rid)
    try:
        return get_project(db, caller, rid)  # by project_id or (3.3 clients) project MFID
    except HTTPException:
        raise HTTPException(404, f"Resource {rid} not found") from None


def check_writable(db: Session, caller: Caller, res: Union[Entity, Project]) -> None:
    if isinstance(res, Entity):
        check_write(db, caller, res)
    elif not caller.is_admin and res.project_id not in caller.groups:
        raise HTTPException(403, f"Not allowed to modify project {res.project_id}")


def res_id(res: Union[Entity, Project]) -> str:
    return res.unique_id if isinstance(res, Entity) else res.project_id


@router.get("/idtype/{rid}", response_model=out.ResourceType)
def idtype(rid: str, db: DB, caller: Who):
    res = resolve(db, caller, rid)
    return {"resource_type": res.kind if isinstance(res, Entity) else "project"}


@router.get("/resources/{rid}", response_model=out.AnyRecord, **out.SENT_ONLY)
def get_resource(rid: str, request: Request, db: DB, caller: Who):
    res = resolve(db, caller, rid)
    if isinstance(res, Project):
        return project_record(db, caller, res, include_metadata=includes(request).get("include_metadata", False))
    return record(db, res, caller, **includes(request))


@router.get("/resources/{rid}/links", response_model=list[out.Link])
def resource_links(rid: str, db: DB, caller: Who):
    res = resolve(db, caller, rid)
    if isinstance(res, Project):
        return []
    return links_of(db, caller, [res.unique_id])[res.unique_id]


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Recurse into dicts; lists and scalars in ``patch`` replace those in ``base``."""
    out = dict(base)
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _meta_body(rid: str, data: dict) -> dict:
    return {"unique_id": rid, "scientific_metadata": data}


def write_metadata(db: Session, caller: Caller, rid: str, data: dict, mode: str) -> dict:
    """``mode``: ``create`` (409 if present), ``replace`` or ``merge`` (creates if absent)."""
    if not isinstance(data, dict):
        raise HTTPException(422, "scientific metadata must be a JSON object")
    res = resolve(db, caller, rid)
    check_writable(db, caller, res)
    key = res_id(res)
    row = db.get(Metadata, key)
    if row is None:
        row = Metadata(unique_id=key, data=data)
        db.add(row)
    elif mode == "create":
        raise HTTPException(409, f"Scientific metadata for {key} already exists; "
                                 "PATCH to merge or POST with overwrite=true to replace")
    else:
        row.data = deep_merge(row.data or {}, data) if mode == "merge" else data
    if len(json.dumps(row.data)) > MAX_METADATA_CHARS:
        raise HTTPException(413, f"Scientific metadata larger than {MAX_METADATA_CHARS} characters")
    db.commit()
    return _meta_body(key, row.data)


def check_metadata_readable(caller: Caller, res: Union[Entity, Project]) -> None:
    """A project's record is readable by anyone with a key; its metadata only by members."""
    if isinstance(res, Project) and not caller.is_admin and res.project_id not in caller.groups:
        raise HTTPException(403, f"Only members of project {res.project_id} may read its metadata")


@router.get("/resources/{rid}/metadata", response_model=out.MetadataDoc | None)
def get_metadata(rid: str, db: DB, caller: Who):
    res = resolve(db, caller, rid)
    check_metadata_readable(caller, res)
    key = res_id(res)
    row = db.get(Metadata, key)
    return _meta_body(key, row.data) if row is not None else None


@router.post("/resources/{rid}/metadata", response_model=out.MetadataDoc)
def post_metadata(rid: str, db: DB, caller: Who, data: dict = Body(...), overwrite: bool = False):
    return write_metadata(db, caller, rid, data, "replace" if overwrite else "create")


@router.patch("/resources/{rid}/metadata", response_model=out.MetadataDoc)
def patch_metadata(rid: str, db: DB, caller: Who, data: dict = Body(...)):
    return write_metadata(db, caller, rid, data, "merge")


@router.get("/datasets/{dsid}/scientific_metadata", response_model=out.LegacyMetadataDoc)
def legacy_get_metadata(dsid: str, db: DB, caller: Who):
    get_entity(db, caller, dsid, "dataset")
    row = db.get(Metadata, dsid)
    return {"unique_id": dsid, "dataset_mfid": dsid, "scientific_metadata": row.data if row else {}}


@router.post("/datasets/{dsid}/scientific_metadata", response_model=out.MetadataDoc)
def legacy_post_metadata(dsid: str, db: DB, caller: Who, data: dict = Body(...)):
    get_entity(db, caller, dsid, "dataset")
    return write_metadata(db, caller, dsid, data, "replace")


@router.patch("/datasets/{dsid}/scientific_metadata", response_model=out.MetadataDoc)
def legacy_patch_metadata(dsid: str, db: DB, caller: Who, data: dict = Body(...)):
    get_entity(db, caller, dsid, "dataset")
    return write_metadata(db, caller, dsid, data, "merge")


def _acl_list(db: Session, rid: str) -> list[dict]:
    return [{"group_name": a.group_name, "read": a.read, "write": a.write}
            for a in db.scalars(select(Acl).where(Acl.resource_id == rid).order_by(Acl.group_name))]


def _acl_add(db: Session, caller: Caller, rid: str, group_name: str, read: bool, write: bool) -> dict:
    require_admin(caller)
    key = res_id(resolve(db, caller, rid))
    row = db.get(Acl, (key, group_name)) or Acl(resource_id=key, group_name=group_name)
    row.read, row.write = True if read or write else read, write
    db.merge(row)
    db.commit()
    return {"resource_id": key, "group_name": group_name, "read": row.read, "write": row.write}


@router.get("/resources/{rid}/access_groups", response_model=list[out.AclEntry])
def get_access_groups(rid: str, db: DB, caller: Who):
    require_admin(caller)
    return _acl_list(db, res_id(resolve(db, caller, rid)))


@router.post("/resources/{rid}/access_groups", response_model=out.AclGrant)
def add_access_group(rid: str, group_name: str, db: DB, caller: Who, read: bool = True,
                     write: bool = False):
    return _acl_add(db, caller, rid, group_name, read, write)


@router.get("/datasets/{dsid}/access_groups", response_model=list[out.AclEntry])
def get_dataset_access_groups(dsid: str, db: DB, caller: Who):
    return get_access_groups(dsid, db, caller)


@router.post("/datasets/{dsid}/access_groups", response_model=out.AclGrant)
def add_dataset_access_group(dsid: str, group_name: str, db: DB, caller: Who, read: bool = True,
                             write: bool = False):
    return _acl_add(db, caller, dsid, group_name, read, write)


@router.put("/resources/{rid}/access/public", response_model=out.PublicAccess)
def make_public(rid: str, db: DB, caller: Who):
    """3.3 clients publish by granting the public principal viewer access."""
    patch_entity(db, caller, get_entity(db, caller, rid), {"public": True})
    return {"principal_id": "public", "principal_type": "public", "permission": "viewer"}


@router.delete("/resources/{rid}/access/public", response_model=out.Detail)
def make_private(rid: str, db: DB, caller: Who):
    patch_entity(db, caller, get_entity(db, caller, rid), {"public": False})
    return {"detail": f"Public access to {rid} removed"}
