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
from pathlib import Path

import anyio
import google_crc32c
from fastapi import HTTPException, Request
from ...mfid import new_mfid
from ..auth import authenticate, check_write
from ..file_rows import file_record, register_blob
from ..names import file_name_problem
from ..records import get_entity
from .. import responses as out
from .base import api_router

router = api_router(tags=["files"])
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


async def _parse(request: Request, boundary: bytes, tmp_dir, parts: list[_Part]) -> None:
    """Split the streamed body at ``--boundary`` lines, appending each file part to ``parts``
    as it starts (so the caller can remove every temporary file, also when parsing fails)."""
    delim = b"\r\n--" + boundary
    buf = b"\r\n"  # lets the first delimiter match like the others
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
                return
            buf = rest[2:]  # the CRLF after the boundary line
            in_headers = True
    raise HTTPException(400, "Malformed multipart body (no closing boundary)")


@router.post("/datasets/{dsid}/upload", response_model=list[out.AssociatedFile])
async def legacy_upload(dsid: str, request: Request):
    ctype = request.headers.get("content-type", "")
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    if not ctype.lower().startswith("multipart/form-data") or m is None:
        raise HTTPException(422, "Expected multipart/form-data with parts named 'files'")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise HTTPException(413, f"Upload larger than {MAX_BYTES} bytes")
    await anyio.to_thread.run_sync(_check_access, request, dsid)
    storage = request.app.state.storage
    parts: list[_Part] = []
    try:
        await _parse(request, m.group(1).encode(), str(storage.uploads), parts)
        files = [p for p in parts if p.name == "files" and p.filename]
        if not files:
            raise HTTPException(422, "No parts named 'files' with a filename")
        names = [_part_name(p) for p in files]
        return await anyio.to_thread.run_sync(_register, request, dsid, files, names)
    finally:  # whatever happened (bad body, cut connection, refusal), no temporary file stays
        for p in parts:
            p.fh.close()
            if os.path.exists(p.path):
                os.unlink(p.path)


def _part_name(part: _Part) -> str:
    """The part's file name without folders (S clients send a basename); 422 if unusable."""
    name = os.path.basename((part.filename or "").replace("\\", "/"))
    problem = file_name_problem(name)
    if problem is not None:
        raise HTTPException(422, f"filename {problem}")
    return name


def _check_access(request: Request, dsid: str) -> None:
    with request.app.state.sessions() as db:
        caller = _caller(request, db)
        check_write(db, caller, get_entity(db, caller, dsid, "dataset"))


def _register(request: Request, dsid: str, parts: list[_Part], names: list[str]) -> list[dict]:
    storage = request.app.state.storage
    out = []
    with request.app.state.sessions() as db:
        ds = get_entity(db, _caller(request, db), dsid, "dataset")
        for p, name in zip(parts, names):
            crc = base64.b64encode(p.crc.to_bytes(4, "big")).decode()
            f, _ = register_blob(db, storage, dsid=dsid, blob=Path(p.path), relpath=name,
                                 upload_path=f"api-uploads/{name}", size=p.size,
                                 sha256=p.sha.hexdigest(), crc32c=crc)
            out.append(file_record(f, ds.id))
    return out


def _caller(request: Request, db):
    return authenticate(db, request.headers.get("authorization"))
