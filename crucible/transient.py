"""Which failures a later attempt may fix: the one classification every retry layer uses.

The transport already retries each request within seconds; a job's per-item retries and
Prefect's task retries are the slower layers for outages that outlast those: 5xx (except 501
and 505), 429 and lost connections. A 4xx other than 429 means the request itself is wrong
(bad key, unknown id, invalid input) and is never retried.
"""

from __future__ import annotations

import requests

from crucible.errors import ChecksumMismatchError, CrucibleHTTPError, TransferError

_PERMANENT_5XX = {501, 505}


def is_transient(exc: BaseException) -> bool:
    """True for errors that a later attempt may not see: 5xx (not 501/505), 429, connections."""
    if isinstance(exc, CrucibleHTTPError):
        status = exc.status_code
        if status is None:
            return True
        return status == 429 or (status >= 500 and status not in _PERMANENT_5XX)
    if isinstance(exc, ChecksumMismatchError):
        return False
    if isinstance(exc, (requests.ConnectionError, requests.Timeout, ConnectionError)):
        return True
    if isinstance(exc, TransferError):
        # An upload session or signed URL failed after the transport's own retries; the
        # cause tells whether it is worth another attempt.
        cause = exc.__cause__ or exc.__context__
        return cause is None or is_transient(cause)
    return False
