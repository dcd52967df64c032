"""Stream signed URLs without the API key, resuming with ``Range`` after a broken connection.

Signed download URLs are bearer capabilities: they are fetched through the transport's
credential-free ``storage`` session, never the API session. Errors and logs show the URL
without its query string (the signature).
"""

from __future__ import annotations

import hashlib
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
    t = transport or default_transport()
    policy = t.retry_policy
    pos = start
    failures, stalled_since, stalled_at = 0, time.monotonic(), pos
    while True:
        resp, total = _open(t, url, pos)
        expected_end = total
        try:
            for chunk in resp.iter_content(chunk_size):
                if chunk:
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
    hashing it; check size and sha256 when given (:class:`ChecksumMismatchError`)."""
    h = hashlib.sha256()
    size = 0
    for chunk in stream_url(url, chunk_size=chunk_size, transport=transport):
        dest.write(chunk)
        h.update(chunk)
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
