"""S-era ``POST /datasets/{id}/upload``: multipart/form-data with parts named ``files``.

The body is parsed as it streams in (no whole part in memory) and each file part is written to
the upload area while SHA-256 and CRC32C are computed. Parts become file rows named
``api-uploads/<filename>``; content already on the dataset is not stored twice.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re

import anyio
import google_crc32c
from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select

from ..mfid import new_mfid
from .auth import authenticate, check_write
from .db import File
from .records import get_entity
from .routes.files import file_record

router = APIRouter(tags=["files"])
MAX_BYTES = 2 * 1024**3  # S clients send < 1e8 bytes per file; refuse absurd bodies with 413
_DISPOSITION_NAME = re.compile(r'\bname="([^"]*)"', re.I)
_DISPOSITION_FILE = re.compile(r'\bfilename="([^"]*)"', re.I)


class _Part:
    """One file part being written to disk."""

    def __init__(self, path: str, name: str | None, filename: str | None) -> None:
        self.path, self.name, self.filename = path, name, filename
        self.fh = open(path, "wb")
        self.sha = hashlib.sha256()
        self.crc = 0
        self.size = 0

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.sha.update(data)
        self.crc = google_crc32c.extend(self.crc, data)
        self.size += len(data)


async def _parse(request: Request, boundary: bytes, tmp_dir) -> list[_Part]:
    """Split the streamed body at ``--boundary`` lines; return the file parts written."""
    delim = b"\r\n--" + boundary
    buf = b"\r\n"  # lets the first delimiter match like the others
    parts: list[_Part] = []
    current: _Part | None = None
    in_headers, seen = False, 0
    async for piece in request.stream():
        seen += len(piece)
        if seen > MAX_BYTES:
            raise HTTPException(413, f"Upload larger than {MAX_BYTES} bytes")
        buf += piece
        while True:
            if in_headers:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                headers = buf[:end].decode("utf-8", "replace")
                buf = buf[end + 4:]
                in_headers = False
                name = _DISPOSITION_NAME.search(headers)
                fname = _DISPOSITION_FILE.search(headers)
                current = _Part(os.path.join(tmp_dir, new_mfid()), name and name.group(1),
                                fname and fname.group(1))
                parts.append(current)
                continue
            idx = buf.find(delim)
            if idx < 0:
                keep = len(delim) + 2
                if current is not None and len(buf) > keep:
                    await anyio.to_thread.run_sync(current.write, buf[:-keep])
                    buf = buf[-keep:]
                break
            if len(buf) < idx + len(delim) + 2:
                break  # need the two bytes after the boundary ("--" or CRLF)
            if current is not None:
                await anyio.to_thread.run_sync(current.write, buf[:idx])
                current.fh.close()
                current = None
            rest = buf[idx + len(delim):]
            if rest.startswith(b"--"):
                return parts
            buf = rest[2:]  # the CRLF after the boundary line
            in_headers = True
    raise HTTPException(400, "Malformed multipart body (no closing boundary)")


@router.post("/datasets/{dsid}/upload")
async def legacy_upload(dsid: str, request: Request):
    ctype = request.headers.get("content-type", "")
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    if not ctype.lower().startswith("multipart/form-data") or m is None:
        raise HTTPException(422, "Expected multipart/form-data with parts named 'files'")
    await anyio.to_thread.run_sync(_check_access, request, dsid)
    storage = request.app.state.storage
    parts: list[_Part] = []
    try:
        parts = await _parse(request, m.group(1).encode(), str(storage.uploads))
        files = [p for p in parts if p.name == "files" and p.filename]
        if not files:
            raise HTTPException(422, "No parts named 'files' with a filename")
        return await anyio.to_thread.run_sync(_register, request, dsid, files)
    finally:
        for p in parts:
            p.fh.close()
            if os.path.exists(p.path):
                os.unlink(p.path)


def _check_access(request: Request, dsid: str) -> None:
    with request.app.state.sessions() as db:
        caller = _caller(request, db)
        check_write(db, caller, get_entity(db, caller, dsid, "dataset"))


def _register(request: Request, dsid: str, parts: list[_Part]) -> list[dict]:
    storage = request.app.state.storage
    out = []
    with request.app.state.sessions() as db:
        ds = get_entity(db, _caller(request, db), dsid, "dataset")
        for p in parts:
            sha = p.sha.hexdigest()
            f = db.scalar(select(File).where(File.dataset_mfid == dsid, File.sha256_hash == sha))
            if f is None:
                name = os.path.basename(p.filename.replace("\\", "/")) or "upload"
                f = File(mfid=new_mfid(), dataset_mfid=dsid, relpath=name, filename=f"api-uploads/{name}",
                         size=p.size, sha256_hash=sha,
                         crc32c=base64.b64encode(p.crc.to_bytes(4, "big")).decode())
                os.replace(p.path, storage.staged_file(f.mfid))
                db.add(f)
                db.commit()
            out.append(file_record(f, ds.id))
    return out


def _caller(request: Request, db):
    return authenticate(db, request.headers.get("authorization"))
