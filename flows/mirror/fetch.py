"""Streaming, verified copy from a signed download URL into an :class:`AtomicWriter`.

Signed URLs are bearer capabilities: they are fetched on a plain ``requests.Session`` that never
carries the Crucible API key (nor ``.netrc`` credentials), and they never appear in messages:
errors name the host and path only. A transfer that breaks mid-stream resumes with an HTTP
``Range`` request from the last byte received, so the running sha256 stays valid and no byte is
fetched twice; a server that ignores ``Range`` makes us start the file over.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

import requests

from .destination import AtomicWriter

CHUNK_SIZE = 1 * 2**20
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class TransferError(RuntimeError):
    """A file could not be copied (after retries); the message never contains a signed URL."""


class ChecksumMismatch(TransferError):
    """The bytes received do not match Crucible's recorded size or sha256."""


class LinkExpired(TransferError):
    """The signed URL was refused (expired or revoked); a fresh one may work."""


def redact(url: str) -> str:
    """``scheme://host/path`` without the query string that carries the signature."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}{parts.path}"


class _NoCredentials(requests.auth.AuthBase):
    """Strips any Authorization header and stops requests from reading ``~/.netrc``."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request


_local = threading.local()


def anonymous_session() -> requests.Session:
    """A per-thread session with no credentials of any kind (proxies from the environment stay)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.auth = _NoCredentials()
        session.headers.pop("Authorization", None)
        _local.session = session
    return session


@dataclass
class RetryPolicy:
    """Bounded retries for one file: attempts, and exponential back-off between them."""

    attempts: int = 6
    backoff: float = 0.2
    max_backoff: float = 5.0
    timeout: tuple[float, float] = (10.0, 60.0)

    def sleep(self, attempt: int) -> None:
        time.sleep(min(self.max_backoff, self.backoff * 2 ** attempt))


@dataclass
class CopyResult:
    bytes_received: int
    sha256: str
    attempts: int


def copy_verified(
    get_url: Callable[[bool], str],
    writer: AtomicWriter,
    *,
    expected_size: int | None,
    expected_sha256: str,
    retry: RetryPolicy | None = None,
    chunk_size: int = CHUNK_SIZE,
    on_bytes: Callable[[int], None] | None = None,
) -> CopyResult:
    """Stream a file into ``writer``, verify size and sha256, then commit (or abort).

    ``get_url(refresh)`` returns the signed URL; ``refresh=True`` asks for a new one after the
    storage host refused the old one. On any failure the writer is aborted, so no partial file
    is left under the final name, and :class:`TransferError` is raised.
    """
    retry = retry or RetryPolicy()
    state = _State()
    attempt = 0
    refresh = False
    try:
        while True:
            url = get_url(refresh)
            refresh = False
            try:
                _stream_once(url, writer, state, retry, chunk_size, on_bytes)
                break
            except _Restart:
                writer = _restart(writer)
                state = _State()
            except LinkExpired:
                refresh = True
                if attempt + 1 >= retry.attempts:
                    raise
            except _Transient as exc:
                if attempt + 1 >= retry.attempts:
                    raise TransferError(
                        f"{exc} (gave up after {attempt + 1} attempts, {state.received} bytes received)"
                    ) from None
            attempt += 1
            retry.sleep(attempt - 1)
        sha, received = state.digest.hexdigest(), state.received
        if expected_size is not None and received != expected_size:
            raise ChecksumMismatch(f"size mismatch: received {received} bytes, record says {expected_size}")
        if sha != expected_sha256.lower():
            raise ChecksumMismatch(f"sha256 mismatch: received {sha}, record says {expected_sha256}")
        writer.commit()
        return CopyResult(bytes_received=received, sha256=sha, attempts=attempt + 1)
    except BaseException:
        writer.abort()
        raise


class _State:
    """Bytes received so far and their running sha256 (survives a broken stream)."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.received = 0


class _Transient(Exception):
    pass


class _Restart(Exception):
    pass


def _restart(writer: AtomicWriter) -> AtomicWriter:
    writer.abort()
    return writer.dest.open_writer(writer.relative)


def _stream_once(url, writer, state, retry, chunk_size, on_bytes) -> None:
    """One GET (ranged when resuming), appending to ``writer`` and ``state``."""
    offset = state.received
    where = redact(url)
    # identity: byte offsets for Range resume must be offsets into the stored bytes
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = anonymous_session().get(url, headers=headers, stream=True,
                                           timeout=retry.timeout, allow_redirects=True)
    except requests.RequestException as exc:
        raise _Transient(f"cannot reach {where}: {type(exc).__name__}") from None
    with response:
        status = response.status_code
        if status in (401, 403):
            raise LinkExpired(f"download refused by {where} (HTTP {status})")
        if status in TRANSIENT_STATUS:
            raise _Transient(f"HTTP {status} from {where}")
        if status == 416 and offset:
            raise _Restart()
        if status >= 400:
            raise TransferError(f"HTTP {status} from {where}")
        if offset and status != 206:
            raise _Restart()  # Range ignored: the body starts at byte 0 again
        start = offset
        declared = response.headers.get("Content-Length")
        chunks = response.iter_content(chunk_size)
        while True:
            try:
                chunk = next(chunks, None)
            except (requests.RequestException, OSError) as exc:
                raise _Transient(
                    f"transfer from {where} broke at byte {offset}: {type(exc).__name__}"
                ) from None
            if chunk is None:
                break
            if not chunk:
                continue
            try:
                writer.write(chunk)
            except OSError as exc:
                raise TransferError(f"writing to the destination failed: {exc}") from None
            state.digest.update(chunk)
            state.received += len(chunk)
            offset = state.received
            if on_bytes is not None:
                on_bytes(len(chunk))
        if declared is not None and declared.isdigit() and offset - start != int(declared):
            raise _Transient(f"transfer from {where} ended early at byte {offset}")
