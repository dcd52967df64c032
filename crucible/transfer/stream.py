"""Stream signed URLs without the API key, resuming with ``Range`` after a broken connection.

Signed download URLs are bearer capabilities: they are fetched through the transport's
credential-free ``storage`` session, never the API session. Errors and logs show the URL
without its query string (the signature).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import queue
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Iterator, Protocol

import requests

from ..errors import ChecksumMismatchError, CrucibleHTTPError, TransferError, redact_url

__all__ = ["STREAM_CHUNK", "stream_url", "copy_url", "CopyResult", "default_transport"]

log = logging.getLogger("crucible.transfer")
STREAM_CHUNK = 512 * 1024
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_default = None


def default_transport():
    """A credential-free transport for callers without a client (created on first use)."""
    global _default
    if _default is None:
        from ..transport import Transport

        _default = Transport("", None)
    return _default


class _Incomplete(Exception):
    pass


def _open(transport, url: str, pos: int) -> tuple[requests.Response, int | None]:
    """GET ``url`` from byte ``pos``; returns the response and the total size if known."""
    headers = {"Range": f"bytes={pos}-"} if pos else {}

    def once(_attempt: int) -> tuple[requests.Response, int | None]:
        resp = transport.storage.get(url, headers=headers, stream=True,
                                     timeout=transport.timeout, allow_redirects=True)
        if resp.status_code >= 400:
            err = transport.error_from("GET", redact_url(url), resp)
            resp.close()
            raise err
        total: int | None = None
        if resp.status_code == 206:
            m = _RANGE.match(resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != pos:
                resp.close()
                raise TransferError(f"GET {redact_url(url)}: server sent an unexpected range")
            total = int(m.group(3)) if m.group(3) != "*" else None
        else:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if pos:  # range ignored: skip what we already have
                _discard(resp, pos)
        return resp, total

    try:
        return transport.retrying(once, safe=True, what=f"GET {redact_url(url)}")
    except CrucibleHTTPError as exc:
        raise TransferError(f"GET {redact_url(url)} -> {exc.status_code}: {exc.detail}") from None
    except requests.RequestException as exc:
        raise TransferError(f"GET {redact_url(url)} failed: {type(exc).__name__}") from None


def _discard(resp: requests.Response, count: int) -> None:
    left = count
    for chunk in resp.iter_content(min(STREAM_CHUNK, left) or 1):
        left -= len(chunk)
        if left <= 0:
            break
    if left != 0:
        raise _Incomplete()


def stream_url(
    url: str,
    *,
    chunk_size: int = STREAM_CHUNK,
    transport: Any = None,
    start: int = 0,
) -> Iterator[bytes]:
    """Yield the body of ``url`` in chunks of up to ``chunk_size`` bytes, from byte ``start``.

    A connection that breaks mid-body is reopened at the current offset (``Range``); the
    transport's retry policy bounds the breaks in a row with no byte received in between (its
    deadline counts from the last byte). Raises :class:`TransferError` when it gives up.
    """
    for chunk in _stream(url, chunk_size=chunk_size, transport=transport, start=start,
                         buffers=None):
        yield bytes(chunk)  # without a buffer every chunk is already ``bytes``: no copy


class _Buffers(Protocol):
    """Where :func:`_body` gets the buffers it reads into (and gives back the unused ones)."""

    def take(self) -> bytearray: ...

    def give_back(self, buf: bytearray) -> None: ...


def _body(resp: requests.Response, chunk_size: int,
          buffers: _Buffers | None) -> Iterator[bytes | memoryview]:
    """The response body in chunks. With ``buffers``, and a plain body (a known length, no
    transfer or content encoding), read straight from the connection into buffers taken from
    it and yield views of them (the consumer gives each back when done with it); otherwise
    ``iter_content``'s bytes."""
    fp = getattr(resp.raw, "_fp", None)  # urllib3's http.client response
    plain = (buffers is not None and isinstance(fp, http.client.HTTPResponse) and not fp.chunked
             and fp.length is not None and getattr(resp.raw, "_fp_bytes_read", 1) == 0
             and resp.headers.get("Content-Encoding", "identity") == "identity")
    if not plain or fp is None or buffers is None:
        yield from (c for c in resp.iter_content(chunk_size) if c)
        return
    while True:
        buf = buffers.take()
        try:
            n = fp.readinto(memoryview(buf))
        except (OSError, http.client.HTTPException) as exc:  # a broken read: resume as usual
            buffers.give_back(buf)
            raise requests.ConnectionError(f"read failed: {type(exc).__name__}") from exc
        if not n:
            buffers.give_back(buf)
            return
        yield memoryview(buf)[:n]


def _stream(url: str, *, chunk_size: int, transport: Any, start: int,
            buffers: _Buffers | None) -> Iterator[bytes | memoryview]:
    """:func:`stream_url`; with ``buffers``, chunks are views of them (see :func:`_body`)."""
    t = transport or default_transport()
    policy = t.retry_policy
    pos = start
    failures, stalled_since, stalled_at = 0, time.monotonic(), pos
    while True:
        resp, total = _open(t, url, pos)
        expected_end = total
        try:
            for chunk in _body(resp, chunk_size, buffers):
                pos += len(chunk)
                yield chunk
            if expected_end is not None and pos < expected_end:
                raise _Incomplete()
            return
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError, _Incomplete) as exc:
            if pos > stalled_at:  # progress since the last break: start counting afresh
                failures, stalled_since, stalled_at = 0, time.monotonic(), pos
            failures += 1
            if policy.gives_up(failures, time.monotonic() - stalled_since):
                raise TransferError(f"GET {redact_url(url)}: connection broke at byte {pos} "
                                    f"({type(exc).__name__}); gave up after {failures} tries"
                                    ) from None
            log.info("GET %s broke at byte %d (%s); resuming", redact_url(url), pos,
                     type(exc).__name__)
            time.sleep(policy.sleep_for(failures))
        finally:
            resp.close()


@dataclass(frozen=True)
class CopyResult:
    """What :func:`copy_url` moved."""

    size: int
    sha256: str


def copy_url(
    url: str,
    dest: BinaryIO,
    *,
    expected_sha256: str | None = None,
    expected_size: int | None = None,
    chunk_size: int = STREAM_CHUNK,
    transport: Any = None,
    progress: Callable[[int], None] | None = None,
    what: str | None = None,
) -> CopyResult:
    """Copy a signed URL into any writable binary file object (local, fsspec, ...) while
    hashing it; check size and sha256 when given (:class:`ChecksumMismatchError`).

    The body is read straight into a few reused buffers (no per-chunk bytes objects) and
    written from there, while :class:`_SideHash` hashes the chunks already written in a helper
    thread: the sha256 costs the copy almost no time (docs/performance.md)."""
    hasher = _SideHash(chunk_size)
    size = 0
    try:
        for chunk in _stream(url, chunk_size=chunk_size, transport=transport, start=0,
                             buffers=hasher):
            dest.write(chunk)
            hasher.update(chunk)
            size += len(chunk)
            if progress is not None:
                progress(len(chunk))
        digest = hasher.hexdigest()
    finally:
        hasher.close()
    label = what or redact_url(url)
    if expected_size is not None and size != expected_size:
        raise TransferError(f"{label}: got {size} bytes, expected {expected_size}")
    if expected_sha256 and digest != expected_sha256.lower():
        raise ChecksumMismatchError(label, expected_sha256.lower(), digest)
    return CopyResult(size=size, sha256=digest)


class _SideHash:
    """The sha256 of a copy's chunks, computed in a helper thread while the copy goes on.

    hashlib lets go of the GIL while it hashes a large chunk, so the digest of one chunk is
    computed while the next one is read from the network and written. The copy reads into
    buffers taken from here (at most ``depth`` exist); a buffer comes back once its chunk is
    hashed, so the copy waits only when the hash falls ``depth`` chunks behind, and memory
    stays at ``depth`` chunks (also for the plain ``bytes`` chunks of the general path: the
    hand-over queue holds ``depth``). The first chunk is hashed in line: a body of one chunk (a
    small file) starts no thread. A failure in the thread is raised by :meth:`hexdigest`.
    """

    def __init__(self, chunk_size: int, depth: int = 3) -> None:
        self._hash = hashlib.sha256()
        self._chunk_size, self._depth, self._made = chunk_size, depth, 0
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._todo: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._chunks = 0
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def take(self) -> bytearray:
        """A buffer to read the next chunk into (waits while all of them are being hashed)."""
        try:
            return self._free.get_nowait()
        except queue.Empty:
            if self._made < self._depth:
                self._made += 1
                return bytearray(self._chunk_size)
        return self._free.get()

    def give_back(self, buf: bytearray) -> None:
        self._free.put(buf)

    def update(self, chunk: bytes | memoryview) -> None:
        """Hash ``chunk`` (in order); a view of one of this hasher's buffers is given back
        once hashed."""
        self._chunks += 1
        if self._chunks == 1:
            self._hash_one(chunk)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
            self._thread.start()
        self._todo.put(chunk)

    def hexdigest(self) -> str:
        self.close()
        if self._error is not None:
            raise TransferError(f"hashing the download failed: {self._error!r}")
        return self._hash.hexdigest()

    def close(self) -> None:
        """Wait for the chunks handed over so far (also after a failed copy)."""
        if self._thread is not None:
            self._todo.put(None)
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while (chunk := self._todo.get()) is not None:
            if self._error is None:
                try:
                    self._hash.update(chunk)
                except BaseException as exc:  # kept for hexdigest; the buffers still return
                    self._error = exc
            self._give_back_view(chunk)

    def _hash_one(self, chunk: bytes | memoryview) -> None:
        self._hash.update(chunk)
        self._give_back_view(chunk)

    def _give_back_view(self, chunk: bytes | memoryview) -> None:
        if isinstance(chunk, memoryview) and isinstance(chunk.obj, bytearray):
            self._free.put(chunk.obj)
