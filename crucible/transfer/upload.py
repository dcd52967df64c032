"""Resumable upload of one local file to a resumable-upload URI.

Chunks stream from disk as they are sent (memory bounded by one 1 MiB block, not the chunk
size) and are PUT with ``Content-Range: bytes a-b/total``. A non-final chunk answers 308 with
the confirmed ``Range``; the final one 200/201. After any failure the next attempt first probes (empty PUT with
``bytes */total``) and resumes from the offset the server confirms, so no byte is sent twice
on purpose and none is skipped. The URI needs no Crucible key; it is sent on the storage session
and never logged (urllib3's lines show ``/_uploads/<redacted>``). Each chunk is retried under
the transport's policy; the upload gives up when no byte was confirmed for the policy's deadline.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any, Callable
from urllib.parse import urlsplit

import requests

from ..errors import CrucibleHTTPError, TransferError
from ..transport import RetryableTransfer

__all__ = ["upload_resumable", "GRANULE"]

log = logging.getLogger("crucible.transfer")
GRANULE = 256 * 1024
#: Bytes read from disk per send while a chunk streams out.
SEND_BLOCK = 1024 * 1024
_RANGE = re.compile(r"bytes=0-(\d+)")


def _label(uri: str) -> str:
    """How an upload URI appears in messages: the host only (the URI is a capability)."""
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]} (resumable upload)"


def _confirmed(resp: requests.Response) -> int:
    """Bytes the server holds, from a 308's ``Range`` header (none → 0)."""
    m = _RANGE.match(resp.headers.get("Range", ""))
    return int(m.group(1)) + 1 if m else 0


class _Slice:
    """``length`` bytes of an open file from ``offset``, read as they are sent.

    ``requests`` takes the length from ``len()`` (so ``Content-Length``, no chunked encoding)
    and pulls the bytes through ``read``: one chunk never sits in memory whole, only a block
    of at most :data:`SEND_BLOCK` at a time. A file that ends early raises
    :class:`TransferError` instead of sending a short body.
    """

    def __init__(self, fh: Any, offset: int, length: int, path: Any) -> None:
        self._fh, self._left, self._path = fh, length, path
        self._length = length
        fh.seek(offset)

    def __len__(self) -> int:
        return self._length

    def read(self, amount: int = -1) -> bytes:
        """Up to ``max(amount, SEND_BLOCK)`` bytes: the sender's own block size (16 KiB in
        urllib3) would cost a Python round per 16 KiB."""
        if self._left <= 0:
            return b""
        want = self._left if amount is None or amount < 0 else max(amount, SEND_BLOCK)
        data = self._fh.read(min(want, self._left))
        if not data:
            raise TransferError(f"{self._path}: file shrank while uploading")
        self._left -= len(data)
        return data

    def read_all(self) -> bytes:
        """The rest of the slice as one ``bytes``."""
        return b"".join(iter(lambda: self.read(self._left), b""))


def _put(transport: Any, uri: str, where: str, headers: dict[str, str],
         body: "bytes | _Slice") -> requests.Response:
    """One PUT of a resumable upload; 416 (offset out of step) is retryable, other errors raise."""
    resp = transport.storage.put(uri, data=body, headers=headers,
                                 timeout=transport.timeout, allow_redirects=False)
    if resp.status_code == 416:  # we and the server disagree on the offset: re-probe
        raise RetryableTransfer(f"PUT {where}: 416, offset out of step")
    if resp.status_code >= 400:
        raise transport.error_from("PUT", uri, resp, display=where)
    return resp


def upload_resumable(
    transport: Any,
    uri: str,
    path: str | os.PathLike,
    *,
    size: int | None = None,
    chunk_size: int = 32 * 1024 * 1024,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any] | None:
    """PUT ``path`` to ``uri`` and return the final response's JSON (or None)."""
    total = os.path.getsize(path) if size is None else size
    chunk_size = max(GRANULE, chunk_size // GRANULE * GRANULE)
    where = _label(uri)
    offset = 0
    result: dict[str, Any] | None = None
    done = False
    stalls, stalled_since = 0, time.monotonic()

    with open(path, "rb", buffering=0) as fh:

        def finish(resp: requests.Response) -> None:
            nonlocal result, done
            done = True
            try:
                result = resp.json() if resp.content else None
            except ValueError:
                result = None

        def step(attempt: int) -> int:
            """Send the next chunk (after a probe on a retry); return the new offset."""
            start = offset
            if total == 0:
                resp = _put(transport, uri, where, {"Content-Range": "bytes */0"}, b"")
                if resp.status_code in (200, 201):
                    finish(resp)
                    return 0
                raise TransferError(f"PUT {where}: empty upload not accepted ({resp.status_code})")
            if attempt > 1 or start >= total:
                resp = _put(transport, uri, where,
                            {"Content-Range": f"bytes */{total}", "Content-Length": "0"}, b"")
                if resp.status_code in (200, 201):
                    finish(resp)
                    return total
                start = _confirmed(resp)
                if start != offset:
                    log.debug("upload %s: server confirms %d bytes, resuming there", where, start)
            end = start + min(chunk_size, total - start)
            piece = _Slice(fh, start, end - start, path)
            # a small chunk is read whole and goes out in one send with the headers
            body = piece.read_all() if end - start <= SEND_BLOCK else piece
            resp = _put(transport, uri, where, {"Content-Range": f"bytes {start}-{end - 1}/{total}"},
                        body)
            if resp.status_code in (200, 201):
                finish(resp)
                return total
            if resp.status_code == 308:
                return _confirmed(resp)
            raise TransferError(f"PUT {where}: unexpected status {resp.status_code}")

        while not done:
            try:
                new = transport.retrying(step, safe=True, what=f"PUT {where}")
            except CrucibleHTTPError as exc:
                raise TransferError(f"upload of {os.fspath(path)!r} to {where} failed: "
                                    f"HTTP {exc.status_code}: {exc.detail}") from None
            except (requests.RequestException, RetryableTransfer) as exc:
                raise TransferError(f"upload of {os.fspath(path)!r} to {where} failed: "
                                    f"{type(exc).__name__}") from None
            if new > offset:
                if progress is not None:
                    progress(new - offset)
                stalls, stalled_since = 0, time.monotonic()
            else:
                stalls += 1
                if transport.retry_policy.gives_up(stalls, time.monotonic() - stalled_since):
                    raise TransferError(f"upload of {os.fspath(path)!r} to {where} makes no "
                                        f"progress")
            offset = new
    return result
