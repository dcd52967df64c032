"""Upload initiate/complete, file listings, download links and signed downloads."""

from __future__ import annotations

import hashlib
from typing import Optional

from fastapi import HTTPException, Request
from fastapi.responses import FileResponse
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ...mfid import new_mfid
from ..auth import Caller, can_read, check_write, require_admin, visible_clause
from ..db import Entity, File, Upload, UploadPart
from ..deps import DB, Conf, Limit, Offset, Who
from ..records import count_rows, get_entity, off_envelope
from ..file_rows import file_record, register_blob, stored_duplicate
from ..names import file_name_problem
from .. import responses as out
from ..schemas import UploadComplete, UploadInitiate
from ..storage import Storage
from .base import api_router

router = api_router(tags=["files"])
raw_router = api_router()  # outside the API root: signed downloads need no key


def _file_for(db: Session, caller: Caller, mfid: str) -> tuple[File, Entity]:
    f = db.scalar(select(File).where(File.mfid == mfid))
    ds = db.scalar(select(Entity).where(Entity.unique_id == f.dataset_mfid)) if f else None
    if f is None or ds is None or not can_read(db, caller, ds):
        raise HTTPException(404, f"File {mfid} not found")
    return f, ds


def writable_dataset_or_existing_file(db: Session, caller: Caller, storage: Storage, dsid: str,
                                      body: UploadInitiate) -> tuple[Entity, dict | None]:
    """The checks every upload initiate starts with: the caller may write to the dataset, and
    content whose bytes the server already holds for it is answered as ``{"existing_file": ...}``
    (a row registered without bytes does not count)."""
    ds = get_entity(db, caller, dsid, "dataset")
    check_write(db, caller, ds)
    if body.sha256_hash:
        existing = stored_duplicate(db, storage, dsid, body.sha256_hash)
        if existing is not None:
            return ds, {"existing_file": file_record(existing, ds.id)}
    return ds, None


@router.post("/datasets/{dsid}/upload/initiate", response_model=out.ExistingFile | out.ResumableUpload)
def initiate(dsid: str, body: UploadInitiate, request: Request, db: DB, caller: Who, conf: Conf):
    storage = request.app.state.storage
    ds, existing = writable_dataset_or_existing_file(db, caller, storage, dsid, body)
    if existing is not None:
        return existing
    upload = Upload(upload_id=new_mfid(), dataset_mfid=dsid, filename=body.filename,
                    size=body.size, sha256_hash=body.sha256_hash, received=0)
    storage.part(upload.upload_id).touch()
    db.add(upload)
    db.commit()
    return {"upload_id": upload.upload_id,
            "resumable_uri": f"{conf.public_url.rstrip('/')}/_uploads/{upload.upload_id}",
            "chunk_size_hint": conf.chunk_size_hint}


@router.post("/datasets/{dsid}/upload/initiate/multipart")
def initiate_multipart(dsid: str, db: DB, caller: Who):
    get_entity(db, caller, dsid, "dataset")
    raise HTTPException(501, "Multipart (GCS XML) upload is not available on the local server; "
                             "use /upload/initiate (resumable)")


@router.post("/datasets/{dsid}/upload/complete", response_model=out.AssociatedFile)
def complete(dsid: str, body: UploadComplete, request: Request, db: DB, caller: Who):
    """Register a fully received upload as a file. Idempotent per ``upload_id``."""
    ds, upload = writable_upload(db, caller, dsid, body.upload_id)
    if upload.file_mfid is None and upload.size == 0 and upload.sha256_actual is None:
        # an empty file needs no PUT at all
        upload.sha256_actual, upload.crc32c = hashlib.sha256(b"").hexdigest(), "AAAAAA=="
    return finish_upload(request, db, ds, upload, body.sha256_hash)


def writable_upload(db: Session, caller: Caller, dsid: str, upload_id: str) -> tuple[Entity, Upload]:
    ds = get_entity(db, caller, dsid, "dataset")
    check_write(db, caller, ds)
    upload = db.get(Upload, upload_id)
    if upload is None or upload.dataset_mfid != dsid:
        raise HTTPException(404, f"Upload {upload_id} not found for dataset {dsid}")
    return ds, upload


def finish_upload(request: Request, db: Session, ds: Entity, upload: Upload,
                  sha256_hash: Optional[str]) -> dict:
    """Turn the upload's assembled blob (at ``storage.part``) into a file row; shared by the
    resumable and the signed multipart routes. A sha256 mismatch discards the upload (422)."""
    dsid = ds.unique_id
    if upload.file_mfid is not None:
        f = db.scalar(select(File).where(File.mfid == upload.file_mfid))
        if f is not None:
            return file_record(f, ds.id)
    if upload.received != upload.size or upload.sha256_actual is None or upload.crc32c is None:
        raise HTTPException(422, f"Upload incomplete: {upload.received} of {upload.size} bytes received")
    storage = request.app.state.storage
    wanted = {h.lower() for h in (sha256_hash, upload.sha256_hash) if h}
    if any(h != upload.sha256_actual for h in wanted):
        discard_upload(request, db, upload)
        raise HTTPException(422, f"sha256 mismatch: received data hashes to {upload.sha256_actual}; "
                                 "the upload was discarded, start a new one")
    if not storage.part(upload.upload_id).exists():  # a concurrent complete took the blob
        db.refresh(upload)
        done = db.scalar(select(File).where(File.mfid == upload.file_mfid)) if upload.file_mfid else None
        if done is not None:
            return file_record(done, ds.id)
        raise HTTPException(409, "This upload is being completed by another request; retry")
    upload_id = upload.upload_id  # register_blob may roll back, which expires ``upload``
    f, _ = register_blob(db, storage, dsid=dsid, blob=storage.part(upload_id),
                         relpath=upload.filename, upload_path=f"crucible-uploads/{dsid}/{upload.filename}",
                         size=upload.size, sha256=upload.sha256_actual, crc32c=upload.crc32c)
    # A statement, not the loaded row: an upload aborted meanwhile is then simply not updated
    # (the file it delivered stays registered) instead of failing the flush with a 500.
    db.execute(update(Upload).where(Upload.upload_id == upload_id).values(file_mfid=f.mfid))
    db.commit()
    request.app.state.upload_states.pop(upload_id, None)
    return file_record(f, ds.id)


def discard_upload(request: Request, db: Session, upload: Upload) -> None:
    """Remove an upload and everything received for it."""
    import shutil

    storage = request.app.state.storage
    storage.part(upload.upload_id).unlink(missing_ok=True)
    shutil.rmtree(storage.parts_dir(upload.upload_id), ignore_errors=True)
    db.execute(delete(UploadPart).where(UploadPart.upload_id == upload.upload_id))
    db.delete(upload)
    db.commit()
    request.app.state.upload_states.pop(upload.upload_id, None)


@router.get("/datasets/{dsid}/files", response_model=list[out.AssociatedFile])
def dataset_files(dsid: str, db: DB, caller: Who):
    ds = get_entity(db, caller, dsid, "dataset")
    rows = db.scalars(select(File).where(File.dataset_mfid == dsid).order_by(File.seq))
    return [file_record(f, ds.id) for f in rows]


@router.get("/files", response_model=out.OffsetPage[out.AssociatedFile])
def list_files(db: DB, caller: Who, sha256_hash: Optional[str] = None,
               dataset_id: Optional[str] = None, limit: Limit = 100, offset: Offset = 0):
    q = (select(File, Entity.id).join(Entity, Entity.unique_id == File.dataset_mfid)
         .where(visible_clause(caller)))
    if sha256_hash is not None:
        q = q.where(File.sha256_hash == sha256_hash.lower())
    if dataset_id is not None:
        q = q.where(File.dataset_mfid == dataset_id)
    total = count_rows(db, q)
    rows = db.execute(q.order_by(File.seq.desc()).limit(limit).offset(offset)).all()
    return off_envelope([file_record(f, i) for f, i in rows], total, limit, offset)


@router.get("/files/{mfid}", response_model=out.AssociatedFile)
def get_file(mfid: str, db: DB, caller: Who):
    f, ds = _file_for(db, caller, mfid)
    return file_record(f, ds.id)


@router.patch("/files/{mfid}", response_model=out.AssociatedFile)
def patch_file(mfid: str, body: dict, db: DB, caller: Who):
    """Admin correction of a file's names (metadata only; the blob stays under its mfid)."""
    require_admin(caller)
    f, ds = _file_for(db, caller, mfid)
    unknown = set(body) - {"filename", "storage_path"}
    if unknown:
        raise HTTPException(422, f"Only filename and storage_path can be changed, not {sorted(unknown)}")
    for key, value in body.items():
        if value is not None and not isinstance(value, str):
            raise HTTPException(422, f"{key} must be a string or null")
        problem = None if value is None and key == "storage_path" else file_name_problem(value or "")
        if problem is not None:
            raise HTTPException(422, f"{key} {problem}")
        setattr(f, "relpath" if key == "filename" else key, value)
    db.commit()
    return file_record(f, ds.id)


@router.delete("/files/{mfid}", response_model=out.Detail)
def delete_file(mfid: str, request: Request, db: DB, caller: Who):
    f, ds = _file_for(db, caller, mfid)
    check_write(db, caller, ds)
    db.delete(f)
    db.commit()
    path = request.app.state.storage.current(mfid)
    if path is not None:
        path.unlink(missing_ok=True)
    return {"detail": f"File {mfid} deleted"}


@router.get("/datasets/{dsid}/download_links", response_model=dict[str, str])
def download_links(dsid: str, request: Request, db: DB, caller: Who):
    get_entity(db, caller, dsid, "dataset")
    rows = db.scalars(select(File).where(File.dataset_mfid == dsid,
                                         File.storage_path.is_not(None)).order_by(File.seq)).all()
    if not rows:
        raise HTTPException(404, f"Nothing ingested yet for dataset {dsid}")
    signer = request.app.state.signer
    return {f.mfid: signer.url(f.mfid) for f in rows}


@router.get("/files/{mfid}/download_link", response_model=out.DownloadLink)
def download_link(mfid: str, request: Request, db: DB, caller: Who):
    f, _ = _file_for(db, caller, mfid)
    if f.storage_path is None:
        raise HTTPException(404, f"File {mfid} is not ingested yet")
    return {"url": request.app.state.signer.url(f.mfid)}


@raw_router.get("/_downloads/{mfid}", operation_id="signed_download")
@raw_router.head("/_downloads/{mfid}", operation_id="signed_download_head")
def signed_download(mfid: str, request: Request, expires: Optional[str] = None,
                    sig: Optional[str] = None):
    """Serve an ingested blob to whoever holds a valid signed URL; ``Range`` supported."""
    if not request.app.state.signer.check(mfid, expires, sig):
        raise HTTPException(403, "Invalid or expired signature")
    path = request.app.state.storage.stored_file(mfid)
    if not path.is_file():
        raise HTTPException(404, "File not found")
    with request.app.state.sessions() as db:
        f = db.scalar(select(File).where(File.mfid == mfid))
    headers = {"x-goog-hash": f"crc32c={f.crc32c}"} if f is not None and f.crc32c else {}
    return FileResponse(path, media_type="application/octet-stream", headers=headers)


@router.get("/datasets/{dsid}/associated_files", response_model=list[out.AssociatedFile])
def associated_files(dsid: str, db: DB, caller: Who):
    """S-era listing of a dataset's file rows (same records as ``/datasets/{id}/files``)."""
    return dataset_files(dsid, db, caller)


@router.post("/datasets/{dsid}/associated_files", response_model=out.AssociatedFile)
def add_associated_file(dsid: str, body: UploadInitiate, db: DB, caller: Who):
    """S-era registration of a file row without content (the old worker's call). Idempotent
    for the same name and hash. Such a row has no bytes: it never counts as an existing file
    for uploads, and ingesting it fails with ``file not found``."""
    ds = get_entity(db, caller, dsid, "dataset")
    check_write(db, caller, ds)
    same = db.scalar(select(File).where(File.dataset_mfid == dsid, File.relpath == body.filename,
                                        File.sha256_hash == (body.sha256_hash or ""),
                                        File.crc32c.is_(None)))
    if same is not None:
        return file_record(same, ds.id)
    f = File(mfid=new_mfid(), dataset_mfid=dsid, relpath=body.filename, filename=body.filename,
             size=body.size, sha256_hash=body.sha256_hash or "")
    db.add(f)
    db.commit()
    return file_record(f, ds.id)
