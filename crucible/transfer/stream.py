"""Stream signed URLs without the API key, resuming with ``Range`` after a broken connection.

Signed download URLs are bearer capabilities: they are fetched through the transport's
credential-free ``storage`` session, never the API session. Errors and logs show the URL
without its query string (the signature).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Iterator

import requests

from ..errors import ChecksumMismatchError, CrucibleHTTPError, TransferError, redact_url

__all__ = ["STREAM_CHUNK", "stream_url", "copy_url", "CopyResult", "default_transport"]

log = logging.getLogger("crucible.transfer")
STREAM_CHUNK = 1024 * 1024
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
    for chunk in _stream(url, chunk_size=chunk_size, transport=transport, start=start, buf=None):
        yield bytes(chunk)  # without a buffer every chunk is already ``bytes``: no copy


def _body(resp: requests.Response, chunk_size: int,
          buf: bytearray | None) -> Iterator[bytes | memoryview]:
    """The response body in chunks. With ``buf``, and a plain body (a known length, no
    transfer or content encoding), read straight from the connection into ``buf`` and yield
    views of it (valid until the next chunk); otherwise ``iter_content``'s bytes."""
    fp = getattr(resp.raw, "_fp", None)  # urllib3's http.client response
    plain = (buf is not None and isinstance(fp, http.client.HTTPResponse) and not fp.chunked
             and fp.length is not None and getattr(resp.raw, "_fp_bytes_read", 1) == 0
             and resp.headers.get("Content-Encoding", "identity") == "identity")
    if not plain or fp is None or buf is None:
        yield from (c for c in resp.iter_content(chunk_size) if c)
        return
    view = memoryview(buf)
    while True:
        try:
            n = fp.readinto(view)
        except (OSError, http.client.HTTPException) as exc:  # a broken read: resume as usual
            raise requests.ConnectionError(f"read failed: {type(exc).__name__}") from exc
        if not n:
            return
        yield view[:n]


def _stream(url: str, *, chunk_size: int, transport: Any, start: int,
            buf: bytearray | None) -> Iterator[bytes | memoryview]:
    """:func:`stream_url`; with ``buf``, chunks are views of it (see :func:`_body`)."""
    t = transport or default_transport()
    policy = t.retry_policy
    pos = start
    failures, stalled_since, stalled_at = 0, time.monotonic(), pos
    while True:
        resp, total = _open(t, url, pos)
        expected_end = total
        try:
            for chunk in _body(resp, chunk_size, buf):
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

    The body is read straight into one reused buffer (no per-chunk bytes objects), hashed and
    written from there: the client's CPU per byte stays below a plain ``iter_content`` loop's
    that does not hash at all (docs/performance.md)."""
    h = hashlib.sha256()
    size = 0
    buf = bytearray(chunk_size)
    for chunk in _stream(url, chunk_size=chunk_size, transport=transport, start=0, buf=buf):
        h.update(chunk)
        dest.write(chunk)
        size += len(chunk)
        if progress is not None:
            progress(len(chunk))
    digest = h.hexdigest()
    label = what or redact_url(url)
    if expected_size is not None and size != expected_size:
        raise TransferError(f"{label}: got {size} bytes, expected {expected_size}")
    if expected_sha256 and digest != expected_sha256.lower():
        raise ChecksumMismatchError(label, expected_sha256.lower(), digest)
    return CopyResult(size=size, sha256=digest)
