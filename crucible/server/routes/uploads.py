"""The resumable-upload URI (the GCS-style resumable protocol), streamed to disk.

Chunks are written at the confirmed offset while SHA-256 and CRC32C are updated incrementally, so
no chunk is held in memory and ``complete`` needs no second pass over the data. A chunk that
breaks off or has the wrong size is rolled back (file truncated, hash states restored).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import anyio
import google_crc32c
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response

from ..db import Upload
from .. import responses as out
from .base import api_router

router = api_router()
QUANTUM = 256 * 1024
FLUSH_BYTES = 1 << 20
_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)$")


@dataclass
class UploadState:
    """Running hashes of the bytes confirmed so far (rebuilt from disk after a restart)."""

    offset: int = 0
    sha: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    crc: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _rebuild(path: Path, received: int) -> UploadState:
    st = UploadState()
    with open(path, "rb") as fh:
        remaining = received
        while remaining:
            block = fh.read(min(remaining, FLUSH_BYTES))
            if not block:
                break
            st.sha.update(block)
            st.crc = google_crc32c.extend(st.crc, block)
            remaining -= len(block)
    st.offset = received - remaining
    return st


def _crc_b64(crc: int) -> str:
    return base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")


def _done_body(up: Upload) -> dict:
    return {"upload_id": up.upload_id, "name": up.filename, "size": str(up.size), "crc32c": up.crc32c}


def _incomplete(received: int) -> Response:
    headers = {"Range": f"bytes=0-{received - 1}"} if received else {}
    return Response(status_code=308, headers=headers)


def _load(request: Request, upload_id: str) -> Upload:
    with request.app.state.sessions() as db:
        up = db.get(Upload, upload_id)
    if up is None:
        raise HTTPException(404, "Unknown or expired upload")
    return up


def _save(request: Request, upload_id: str, received: int, crc: str | None, sha: str | None) -> Upload:
    with request.app.state.sessions() as db:
        up = db.get(Upload, upload_id)
        up.received = received
        if crc is not None:
            up.crc32c, up.sha256_actual = crc, sha
        db.commit()
        return up


@router.put("/_uploads/{upload_id}", response_model=out.UploadDone)
async def put_chunk(upload_id: str, request: Request):
    states: dict[str, UploadState] = request.app.state.upload_states
    st = states.setdefault(upload_id, UploadState())
    async with st.lock:  # one chunk at a time per upload; the record is read under the lock
        try:
            up = await anyio.to_thread.run_sync(_load, request, upload_id)
        except HTTPException:
            states.pop(upload_id, None)
            raise
        return await _handle(request, up, st)


async def _handle(request: Request, up: Upload, st: UploadState) -> Response:
    part = request.app.state.storage.part(up.upload_id)
    if up.file_mfid is not None or (up.received == up.size and up.crc32c):
        return JSONResponse(_done_body(up), status_code=200)
    m = _RANGE.match(request.headers.get("content-range", f"bytes */{up.size}").strip())
    if m is None:
        raise HTTPException(400, "Malformed Content-Range; expected 'bytes a-b/total' or 'bytes */total'")
    start, end, total = m.group(1), m.group(2), m.group(3)
    if total != "*" and int(total) != up.size:
        raise HTTPException(400, f"Content-Range total {total} does not match the declared size {up.size}")
    if st.offset != up.received or not part.exists():
        if not part.exists():
            raise HTTPException(404, "Upload data is gone; start a new upload")
        fresh = await anyio.to_thread.run_sync(_rebuild, part, up.received)
        st.offset, st.sha, st.crc = fresh.offset, fresh.sha, fresh.crc
    if start is None:  # a probe
        return await _finish_or_308(request, up, st, part)
    a, b = int(start), int(end)
    if b < a or b >= up.size:
        raise HTTPException(400, f"Bad Content-Range bytes {a}-{b} for an object of {up.size} bytes")
    if b < st.offset:  # a retried chunk we already have
        return _incomplete(st.offset)
    if a != st.offset:
        raise HTTPException(416, f"Chunk starts at {a} but the server has {st.offset} bytes; "
                                 "probe with 'Content-Range: bytes */total' and resume",
                            headers={"Range": f"bytes=0-{st.offset - 1}"} if st.offset else None)
    length = b - a + 1
    if b + 1 < up.size and length % QUANTUM:
        raise HTTPException(400, f"Non-final chunks must be a multiple of {QUANTUM} bytes")
    await _receive(request, part, st, a, length)
    up = await anyio.to_thread.run_sync(_save, request, up.upload_id, st.offset, None, None)
    return await _finish_or_308(request, up, st, part)


async def _finish_or_308(request: Request, up: Upload, st: UploadState, part: Path) -> Response:
    if st.offset < up.size:
        return _incomplete(st.offset)
    up = await anyio.to_thread.run_sync(_save, request, up.upload_id, st.offset,
                                        _crc_b64(st.crc), st.sha.hexdigest())
    return JSONResponse(_done_body(up), status_code=200)


async def receive_exactly(request: Request, length: int, sink: Callable[[bytes], None], *,
                          what: str) -> None:
    """Stream the request body into ``sink`` in ~1 MiB blocks (called off the event loop);
    400 unless exactly ``length`` bytes arrive. Shared by resumable chunks and multipart parts."""
    got, buf = 0, bytearray()
    async for piece in request.stream():
        got += len(piece)
        if got > length:
            raise HTTPException(400, f"{what} is longer than {length} bytes")
        buf += piece
        if len(buf) >= FLUSH_BYTES:
            data, buf = bytes(buf), bytearray()
            await anyio.to_thread.run_sync(sink, data)
    if got != length:
        raise HTTPException(400, f"{what} has {got} bytes, expected {length}")
    if buf:
        await anyio.to_thread.run_sync(sink, bytes(buf))


async def _receive(request: Request, part: Path, st: UploadState, a: int, length: int) -> None:
    """Stream the body to ``part`` at offset ``a``; roll back unless exactly ``length`` bytes came."""
    sha0, crc0 = st.sha.copy(), st.crc
    fh = await anyio.to_thread.run_sync(open, part, "r+b")

    def flush(data: bytes) -> None:
        fh.write(data)
        st.sha.update(data)
        st.crc = google_crc32c.extend(st.crc, data)

    try:
        fh.seek(a)
        fh.truncate(a)
        await receive_exactly(request, length, flush, what="Chunk body (per its Content-Range)")
        await anyio.to_thread.run_sync(fh.flush)
        st.offset = a + length
    except BaseException:
        st.sha, st.crc = sha0, crc0
        fh.truncate(a)
        raise
    finally:
        fh.close()
