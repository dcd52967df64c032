"""Signed multipart uploads (the flow nano-crucible 3.3 uses by default).

The API reserves an upload and hands out one signed URL per part; parts are PUT there without a
key (``/_parts/{upload_id}/{n}``), each checked against the CRC32C it was signed for; ``complete``
joins the parts in order while computing SHA-256 and CRC32C, then registers the file exactly like
a resumable upload. Parts stream to disk; a part may be re-sent any number of times.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from datetime import datetime, timezone
from typing import Optional
from urllib.parse import quote

import anyio
import google_crc32c
from fastapi import HTTPException, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...mfid import new_mfid
from ..auth import Caller
from ..db import Entity, Upload, UploadPart
from ..deps import DB, Conf, Offset, Who
from .files import (discard_upload, finish_upload, writable_dataset_or_existing_file,
                           writable_upload)
from .. import responses as out
from ..schemas import UploadInitiate
from .uploads import receive_exactly
from .base import api_router

router = api_router(prefix="/datasets/{dsid}/upload/multipart", tags=["files"])
raw_router = api_router()
FLUSH = 1 << 20


class PartRef(BaseModel):
    part_number: int
    crc32c: Optional[str] = None


class SignIn(BaseModel):
    parts: list[PartRef]


class CompleteIn(BaseModel):
    upload_id: str
    sha256_hash: Optional[str] = None
    crc32c: Optional[str] = None


def _b64(crc: int) -> str:
    return base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")


def _part_size(up: Upload) -> int:
    """The part size of a signed multipart upload; 404 for a resumable upload (it has none)."""
    if up.part_size is None:
        raise HTTPException(404, f"Upload {up.upload_id} is not a multipart upload")
    return up.part_size


def _part_count(up: Upload) -> int:
    return max(1, -(-up.size // _part_size(up)))


def _part_length(up: Upload, n: int) -> int:
    return min(_part_size(up), up.size - (n - 1) * _part_size(up))


def _message(upload_id: str, n: int, crc: str) -> str:
    return f"part:{upload_id}:{n}:{crc}"


@router.post("/initiate", response_model=out.ExistingFile | out.MultipartUpload)
def initiate(dsid: str, body: UploadInitiate, request: Request, db: DB, caller: Who, conf: Conf):
    ds, existing = writable_dataset_or_existing_file(db, caller, request.app.state.storage, dsid, body)
    if existing is not None:
        return existing
    if body.size == 0:
        raise HTTPException(422, "A non-empty file is required")
    up = Upload(upload_id=new_mfid(), dataset_mfid=dsid, filename=body.filename, size=body.size,
                sha256_hash=body.sha256_hash, received=0, part_size=conf.chunk_size_hint)
    db.add(up)
    db.commit()
    return {"upload_id": up.upload_id, "part_size": up.part_size, "part_count": _part_count(up)}


def _multipart(db: Session, caller: Caller, dsid: str, upload_id: str) -> tuple[Entity, Upload]:
    ds, up = writable_upload(db, caller, dsid, upload_id)
    _part_size(up)  # 404 unless a multipart upload
    return ds, up


@router.get("/{upload_id}", response_model=out.MultipartStatus)
def status(dsid: str, upload_id: str, db: DB, caller: Who,
           part_number_marker: Optional[Offset] = None):
    _, up = _multipart(db, caller, dsid, upload_id)
    q = select(UploadPart).where(UploadPart.upload_id == upload_id)
    if part_number_marker:
        q = q.where(UploadPart.part_number > part_number_marker)
    parts = db.scalars(q.order_by(UploadPart.part_number)).all()
    return {"upload_id": upload_id, "part_size": up.part_size, "next_part_number_marker": None,
            "parts": [{"part_number": p.part_number, "size": p.size, "crc32c": p.crc32c} for p in parts]}


@router.post("/{upload_id}/parts", response_model=out.SignedParts)
def sign_parts(dsid: str, upload_id: str, body: SignIn, request: Request, db: DB, caller: Who,
               conf: Conf):
    _, up = _multipart(db, caller, dsid, upload_id)
    signer = request.app.state.signer
    out = []
    for ref in body.parts:
        if not 1 <= ref.part_number <= _part_count(up):
            raise HTTPException(422, f"part_number must be between 1 and {_part_count(up)}")
        crc = ref.crc32c or ""
        expires, sig = signer.sign(_message(upload_id, ref.part_number, crc))
        url = (f"{conf.public_url.rstrip('/')}/_parts/{upload_id}/{ref.part_number}"
               f"?crc32c={quote(crc, safe='')}"
               f"&expires={expires}&sig={sig}")
        out.append({"part_number": ref.part_number, "url": url,
                    "offset": (ref.part_number - 1) * _part_size(up),
                    "size": _part_length(up, ref.part_number), "headers": {},
                    "expires_at": datetime.fromtimestamp(expires, timezone.utc).isoformat()})
    return {"parts": out}


@router.post("/complete", response_model=out.AssociatedFile)
async def complete(dsid: str, body: CompleteIn, request: Request):
    """Join the parts (off the event loop), then register the file like a resumable upload."""
    return await anyio.to_thread.run_sync(_complete, request, dsid, body)


def _complete(request: Request, dsid: str, body: CompleteIn) -> dict:
    from ..auth import authenticate

    storage = request.app.state.storage
    with request.app.state.sessions() as db:
        caller = authenticate(db, request.headers.get("authorization"))
        ds, up = _multipart(db, caller, dsid, body.upload_id)
        if up.file_mfid is None and up.sha256_actual is None:
            parts = {p.part_number: p for p in db.scalars(
                select(UploadPart).where(UploadPart.upload_id == up.upload_id))}
            missing = [n for n in range(1, _part_count(up) + 1) if n not in parts]
            if missing:
                raise HTTPException(422, f"Upload incomplete: parts {missing[:10]} were not received")
            sha, crc = hashlib.sha256(), 0
            with open(storage.part(up.upload_id), "wb") as out:
                for n in range(1, _part_count(up) + 1):
                    with open(storage.parts_dir(up.upload_id) / str(n), "rb") as src:
                        while block := src.read(FLUSH):
                            out.write(block)
                            sha.update(block)
                            crc = google_crc32c.extend(crc, block)
            up.sha256_actual, up.crc32c, up.received = sha.hexdigest(), _b64(crc), up.size
            db.commit()
            shutil.rmtree(storage.parts_dir(up.upload_id), ignore_errors=True)
        if body.crc32c and up.file_mfid is None and body.crc32c != up.crc32c:
            discard_upload(request, db, up)
            raise HTTPException(422, "crc32c mismatch: the upload was discarded, start a new one")
        return finish_upload(request, db, ds, up, body.sha256_hash)


@router.delete("/{upload_id}", response_model=out.Detail)
def abort(dsid: str, upload_id: str, request: Request, db: DB, caller: Who):
    _, up = _multipart(db, caller, dsid, upload_id)
    if up.file_mfid is None:
        discard_upload(request, db, up)
    return {"detail": f"Upload {upload_id} aborted"}


@raw_router.put("/_parts/{upload_id}/{part_number}", response_model=out.UploadedPart)
async def put_part(upload_id: str, part_number: int, request: Request, crc32c: str = "",
                   expires: Optional[str] = None, sig: Optional[str] = None):
    """Receive one part at a signed URL: exact size, CRC32C as signed, else 400; 403 if unsigned."""
    if not request.app.state.signer.check(_message(upload_id, part_number, crc32c), expires, sig):
        raise HTTPException(403, "Invalid or expired signature")
    up = await anyio.to_thread.run_sync(_load, request, upload_id)
    if up is None or up.part_size is None or up.file_mfid is not None:
        raise HTTPException(404, "Unknown or finished upload")
    want = _part_length(up, part_number)
    folder = request.app.state.storage.parts_dir(upload_id)
    folder.mkdir(exist_ok=True)
    tmp = folder / f"{part_number}.{new_mfid()}.tmp"
    crc = 0
    fh = open(tmp, "wb")

    def sink(data: bytes) -> None:
        nonlocal crc
        crc = google_crc32c.extend(crc, data)
        fh.write(data)

    try:
        await receive_exactly(request, want, sink, what=f"Part {part_number}")
        fh.close()
        if crc32c and _b64(crc) != crc32c:
            raise HTTPException(400, f"Part {part_number} CRC32C mismatch")
        os.replace(tmp, folder / str(part_number))
    finally:
        fh.close()
        tmp.unlink(missing_ok=True)
    await anyio.to_thread.run_sync(_record_part, request, upload_id, part_number, want, _b64(crc))
    return {"part_number": part_number, "size": want, "crc32c": _b64(crc)}


def _load(request: Request, upload_id: str) -> Upload | None:
    with request.app.state.sessions() as db:
        return db.get(Upload, upload_id)


def _record_part(request: Request, upload_id: str, n: int, size: int, crc: str) -> None:
    with request.app.state.sessions() as db:
        db.merge(UploadPart(upload_id=upload_id, part_number=n, size=size, crc32c=crc))
        db.commit()
