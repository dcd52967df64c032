"""Typed errors for the Crucible client.

HTTP errors also subclass :class:`requests.HTTPError`, so ``except requests.HTTPError`` written
for the reference client keeps working. Messages carry the method, the path and the server's
detail; they never carry the API key or a signed URL's query string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

__all__ = [
    "CrucibleError",
    "CrucibleHTTPError",
    "AuthenticationError",
    "NotFoundError",
    "ConflictError",
    "ValidationError",
    "RateLimitedError",
    "ServerError",
    "TransferError",
    "ChecksumMismatchError",
    "UnverifiedUploadError",
    "RefusedFile",
    "FilesRefusedError",
    "CrucibleConnectionError",
    "redact_url",
    "redact_path",
    "error_for_status",
]


_UPLOAD_ID = re.compile(r"(/_uploads/)[^/?#]+")


def redact_path(path: str) -> str:
    """Hide the id of a resumable-upload URI (``/_uploads/<id>``): it works without a key."""
    return _UPLOAD_ID.sub(r"\1<redacted>", path)


def redact_url(url: str) -> str:
    """Drop the query string and fragment (signed-URL signatures, tokens) from ``url`` and hide
    resumable-upload ids."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if not parts.scheme:
        return redact_path(parts.path)
    netloc = parts.netloc.rsplit("@", 1)[-1]  # drop any user:password
    return urlunsplit((parts.scheme, netloc, redact_path(parts.path), "", ""))


class CrucibleError(Exception):
    """Base class of every error raised by the client."""


class CrucibleHTTPError(CrucibleError, requests.HTTPError):
    """The API answered with an error status.

    ``method``, ``path`` (no query string), ``status_code`` and ``detail`` (the server's
    ``detail``/``message``/``error`` field, or the body text) are attributes.
    """

    def __init__(
        self,
        method: str,
        path: str,
        status_code: int | None,
        detail: Any = None,
        *,
        response: requests.Response | None = None,
    ) -> None:
        self.method = method.upper()
        self.path = redact_url(path)
        self.status_code = status_code
        self.detail = detail
        text = f"{self.method} {self.path} -> {status_code}"
        if detail not in (None, ""):
            text += f": {_detail_text(detail)}"
        # requests.HTTPError keeps response/request; never pass the request (it holds headers).
        requests.HTTPError.__init__(self, text, response=response)
        self.request = None

    def __reduce__(self):  # picklable without the response (Prefect, multiprocessing)
        extra = {k: v for k, v in self.__dict__.items() if k not in ("response", "request")}
        return (_rebuild, (type(self), self.method, self.path, self.status_code, self.detail,
                           extra))


def _rebuild(cls, method, path, status_code, detail, extra):
    err = cls.__new__(cls)
    CrucibleHTTPError.__init__(err, method, path, status_code, detail)
    err.__dict__.update(extra)
    return err


def _detail_text(detail: Any) -> str:
    if isinstance(detail, list):
        return "; ".join(_field_text(d) for d in detail)
    return str(detail)


def _field_text(item: Any) -> str:
    if isinstance(item, dict) and "msg" in item:
        loc = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body", "query"))
        return f"{loc}: {item['msg']}" if loc else str(item["msg"])
    return str(item)


class AuthenticationError(CrucibleHTTPError):
    """401/403: the key is missing, wrong, or not allowed to do this."""


class NotFoundError(CrucibleHTTPError):
    """404: unknown id, or not readable by this key."""


class ConflictError(CrucibleHTTPError):
    """409: the resource already exists or the request conflicts with its state."""


class ValidationError(CrucibleHTTPError):
    """422 (or 400): invalid parameters or body. ``errors`` holds the field details."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Field errors as ``[{"loc": [...], "msg": ..., "type": ...}]`` (may be empty)."""
        if isinstance(self.detail, list):
            return [d if isinstance(d, dict) else {"msg": str(d)} for d in self.detail]
        return []


class RateLimitedError(CrucibleHTTPError):
    """429 after all retries. ``retry_after`` is the server's hint in seconds, if any."""

    retry_after: float | None = None


class ServerError(CrucibleHTTPError):
    """5xx after all retries."""


class CrucibleConnectionError(CrucibleError, requests.ConnectionError, requests.Timeout):
    """No usable answer after all retries (connection refused or lost, time-out). Also a
    ``requests.ConnectionError`` and ``requests.Timeout``, so old ``except`` clauses still
    match; the original exception is ``__cause__``."""


class TransferError(CrucibleError):
    """Moving bytes to or from storage failed (upload session, signed URL, local file)."""


class ChecksumMismatchError(TransferError):
    """The bytes' sha256 differs from the server's record. Nothing is left at the final path."""

    def __init__(self, what: str, expected: str, actual: str) -> None:
        self.what = what
        self.expected = expected
        self.actual = actual
        super().__init__(f"sha256 mismatch for {what}: expected {expected}, got {actual}")

    def __reduce__(self):
        return (type(self), (self.what, self.expected, self.actual))


class UnverifiedUploadError(TransferError):
    """The server answered an upload with a file row that cannot be shown to hold the bytes
    (no ``storage_path``, and ingestion did not complete): the data may be nowhere."""


@dataclass(frozen=True)
class RefusedFile:
    """A file of a dataset download that was not written: the server's name for it, its
    file id when known, and why."""

    name: str
    reason: str
    mfid: str | None = None

    def __str__(self) -> str:
        return f"{self.name!r}{f' (file {self.mfid})' if self.mfid else ''}: {self.reason}"


class FilesRefusedError(TransferError):
    """A dataset download refused some files (unsafe or clashing local paths); every other file
    was downloaded. ``refused`` lists the :class:`RefusedFile` entries, ``downloaded`` the local
    paths written or kept."""

    def __init__(self, what: str, refused: list[RefusedFile], downloaded: list[str]) -> None:
        self.what = what
        self.refused = list(refused)
        self.downloaded = list(downloaded)
        super().__init__(f"{what}: {len(self.refused)} file(s) refused, "
                         f"{len(self.downloaded)} path(s) downloaded; refused: "
                         + "; ".join(str(r) for r in self.refused))

    def __reduce__(self):
        return (type(self), (self.what, self.refused, self.downloaded))


_BY_STATUS: dict[int, type[CrucibleHTTPError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitedError,
}


def error_for_status(
    method: str, path: str, status_code: int, detail: Any = None,
    *, response: requests.Response | None = None, retry_after: float | None = None,
) -> CrucibleHTTPError:
    """Build the typed error for an error status."""
    cls = _BY_STATUS.get(status_code)
    if cls is None:
        cls = ServerError if status_code >= 500 else CrucibleHTTPError
    err = cls(method, path, status_code, detail, response=response)
    if isinstance(err, RateLimitedError):
        err.retry_after = retry_after
    return err
