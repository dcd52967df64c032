"""The one place that speaks HTTP: sessions, timeouts, typed errors and the retry policy.

Two sessions: ``api`` carries ``Authorization: Bearer <key>`` and talks to the API root;
``storage`` carries no credentials and fetches signed URLs and resumable-upload URIs, so the key
never reaches a storage host. Every call goes through :meth:`Transport.retrying`: the first
attempt runs bare, and a failure worth repeating hands the call to a ``tenacity.Retrying``
(imported then, not before) bounded by :class:`RetryPolicy`: by default a total deadline per
call (no attempt count), capped exponential back-off with jitter, ``Retry-After`` honoured. A
transport refuses to be pickled (its session holds the key).

The per-call path is kept short (docs/performance.md): the first attempt runs with no retry
machinery around it, messages and log arguments are built only when used, neither session looks
up ``~/.netrc`` (the API session sends its Bearer header, the storage session nothing), and the
proxy environment (``HTTP(S)_PROXY``, ``NO_PROXY``) is read once per origin and session, when a
client first talks to that origin, instead of on every request.

Which failures are retried depends on whether re-sending is safe:

* ``safe=True`` (GET/PUT/DELETE, idempotent POSTs such as links and keywords): connection
  errors, read time-outs, 429, 502/503/504.
* ``safe=False`` (other POST/PATCH): only failures where the request cannot have been acted on
  (connect errors before anything was sent, 429).
* creates carry a client-generated id and pass ``on_retry_conflict``: they are retried as safe,
  and a 409 on a *retry* means an earlier attempt landed, so the existing record is read back.
"""

from __future__ import annotations

import logging
import random
import os
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Mapping, TypeVar, Union
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies

from .errors import (
    ConflictError,
    CrucibleConnectionError,
    CrucibleError,
    CrucibleHTTPError,
    RateLimitedError,
    ServerError,
    error_for_status,
    redact_path,
    redact_url,
)

__all__ = ["RetryPolicy", "Transport", "USER_AGENT"]

log = logging.getLogger("crucible.transport")
T = TypeVar("T")
USER_AGENT = "crucible-prefect/0.1"


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried.

    ``deadline`` (seconds) bounds the whole call including back-off sleeps: no new attempt
    starts after it, so a call gives up at most ``deadline`` plus one attempt's time-outs after
    it began. ``attempts`` (counting the first try) adds a bound on the number of tries; the
    default ``None`` leaves only the deadline. The n-th sleep is
    ``min(backoff_max, backoff * 2**(n-1))`` plus up to ``jitter`` of that again, or the
    server's ``Retry-After`` when it sends one (never past the deadline).
    """

    attempts: int | None = None
    deadline: float = 120.0
    backoff: float = 0.25
    backoff_max: float = 16.0
    jitter: float = 0.5
    statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 502, 503, 504}))

    def __post_init__(self) -> None:
        if self.attempts is not None and self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be >= 1 (or None: deadline only)")
        if self.deadline <= 0 or self.backoff < 0 or self.backoff_max < 0 or self.jitter < 0:
            raise ValueError("RetryPolicy times must be positive")

    @classmethod
    def none(cls) -> "RetryPolicy":
        """No retries at all (one attempt)."""
        return cls(attempts=1)

    def sleep_for(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the ``failures``-th failure."""
        if retry_after is not None:
            return max(0.0, retry_after)
        base = min(self.backoff_max, self.backoff * (2 ** max(0, failures - 1)))
        return base + random.uniform(0, base * self.jitter)

    def gives_up(self, failures: int, elapsed: float) -> bool:
        """True when no further attempt may start after ``failures`` failures in ``elapsed``
        seconds."""
        return ((self.attempts is not None and failures >= self.attempts)
                or elapsed >= self.deadline)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _redact_arg(arg: Any) -> Any:
    """A log argument with any query string and resumable-upload id hidden."""
    if not isinstance(arg, str):
        return arg
    head, query, _ = arg.partition("?")
    return redact_path(head) + ("?<redacted>" if query else "")


class _CapabilityRedactor(logging.Filter):
    """Hides signed-URL queries and resumable-upload ids in urllib3's DEBUG request lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        return True


def _install_redactor() -> None:
    """Attach the redactor to urllib3's pool logger once (done when a Transport is made, not
    at import)."""
    pool_log = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _CapabilityRedactor) for f in pool_log.filters):
        pool_log.addFilter(_CapabilityRedactor())


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """Signed URLs are bearer capabilities: send them with no credentials at all. On the API
    session it keeps requests from looking up ``~/.netrc`` (whose entry would replace the
    Bearer header) on every call."""
    return request


#: A message for logs and errors, or a function that builds it (only when it is needed).
What = Union[str, Callable[[], str]]


def _text(what: What) -> str:
    return what if isinstance(what, str) else what()


class _Session(requests.Session):
    """A ``requests.Session`` that reads the proxy environment once per origin.

    ``requests`` walks ``os.environ`` (twice) on every request to find proxies and
    ``NO_PROXY``; the answer only depends on the scheme and host, so it is kept per origin
    (at most :attr:`MAX_ORIGINS`, then read afresh). The CA-bundle variables are still read per
    request, as ``requests`` does.
    """

    MAX_ORIGINS = 64

    def __init__(self) -> None:
        super().__init__()
        self._env_proxies: dict[str, dict[str, str]] = {}

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> dict[str, Any]:
        if not self.trust_env or proxies:  # explicit proxies: requests' own rules
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        env = self._env_proxies.get(origin)
        if env is None:
            if len(self._env_proxies) >= self.MAX_ORIGINS:
                self._env_proxies.clear()
            env = self._env_proxies[origin] = dict(get_environ_proxies(url, no_proxy=None))
        if verify is True or verify is None:
            verify = (os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                      or verify)
        return {"proxies": merge_setting(dict(env), self.proxies),
                "stream": merge_setting(stream, self.stream),
                "verify": merge_setting(verify, self.verify),
                "cert": merge_setting(cert, self.cert)}


class Transport:
    """Owns the HTTP sessions of one client. Thread-safe for concurrent calls."""

    def __init__(
        self,
        api_url: str,
        api_key: str | None,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        pool_maxsize: int = 16,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.retry_policy = retry or RetryPolicy()
        self._key = api_key
        self.api = self._session(pool_maxsize)
        if api_key:
            self.api.headers["Authorization"] = f"Bearer {api_key}"
        # A no-op auth keeps requests from attaching ~/.netrc credentials: to storage hosts
        # never, and on the API session it would replace the Bearer header (and costs a file
        # look-up per call).
        self.api.auth = _no_auth
        self.storage = self._session(pool_maxsize)
        self.storage.auth = _no_auth
        _install_redactor()

    def __repr__(self) -> str:
        return f"Transport(api_url={self.api_url!r})"

    def __getstate__(self) -> Any:  # the api session's headers hold the key
        raise TypeError("a crucible Transport holds an API key and cannot be pickled; "
                        "build a new client in the other process instead")

    @staticmethod
    def _session(pool_maxsize: int) -> requests.Session:
        s = _Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
        s.mount("http://", adapter)
        s.mount("https://", adapter)
        s.headers["User-Agent"] = USER_AGENT
        s.trust_env = True
        return s

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    def close(self) -> None:
        self.api.close()
        self.storage.close()

    # ---------------------------------------------------------------- retry loop
    def retrying(
        self,
        fn: Callable[[int], T],
        *,
        safe: bool = True,
        on_retry_conflict: Callable[[], T] | None = None,
        conflict_error: type[CrucibleHTTPError] = ConflictError,
        what: What = "request",
        policy: RetryPolicy | None = None,
    ) -> T:
        """Run ``fn(attempt_number)`` under the retry policy and return its result.

        ``fn`` raises typed errors or ``requests`` exceptions; which of them are retried is
        decided by ``safe`` (see the module docstring). With ``on_retry_conflict``, a
        :class:`ConflictError` (or ``conflict_error``, e.g. ``NotFoundError`` for deletes) on any
        attempt after the first returns ``on_retry_conflict()``. ``what`` names the call in
        logs: a string, or a function that makes one (called only when something is logged).
        """
        pol = policy or self.retry_policy
        start = time.monotonic()
        retry_safe = safe or on_retry_conflict is not None
        landed = [False]  # an earlier attempt may have reached the server

        def attempt(number: int) -> T:
            try:
                return fn(number)
            except conflict_error as exc:
                if on_retry_conflict is not None and landed[0]:
                    log.debug("%s: %s on attempt %d, an earlier attempt landed", _text(what),
                              exc.status_code, number)
                    return on_retry_conflict()
                _note(exc, landed)
                raise
            except BaseException as exc:
                _note(exc, landed)
                raise

        try:  # the first attempt builds nothing: most calls succeed at once
            return attempt(1)
        except BaseException as exc:
            if not _should_retry(exc, retry_safe, pol) or pol.gives_up(1, time.monotonic() - start):
                raise
            first = exc
        self._pause(pol, 1, first, start, what)
        # imported on the first retry only: tenacity imports tornado when that is installed
        # (Prefect's environments have it), which costs every client process time and memory
        import tenacity

        numbers = iter(range(2, 1 << 30))
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(lambda e: _should_retry(e, retry_safe, pol)),
            # tenacity counts from the second attempt: its n-th attempt is attempt n + 1
            stop=lambda rs: pol.gives_up(rs.attempt_number + 1, time.monotonic() - start),
            wait=lambda rs: self._pause_seconds(pol, rs.attempt_number + 1,
                                                rs.outcome.exception() if rs.outcome else None,
                                                start),
            before_sleep=lambda rs: self._log_retry(pol, rs.attempt_number + 1,
                                                    rs.outcome.exception() if rs.outcome else None,
                                                    rs.upcoming_sleep, what),
            sleep=time.sleep, reraise=True)
        return retrying(lambda: attempt(next(numbers)))

    @staticmethod
    def _pause_seconds(pol: RetryPolicy, failures: int, failure: BaseException | None,
                       start: float) -> float:
        """The back-off after ``failures`` failures, never past the deadline."""
        elapsed = time.monotonic() - start
        seconds = pol.sleep_for(failures, getattr(failure, "retry_after", None))
        return max(0.0, min(seconds, pol.deadline - elapsed))

    def _pause(self, pol: RetryPolicy, failures: int, failure: BaseException, start: float,
               what: What) -> None:
        seconds = self._pause_seconds(pol, failures, failure, start)
        self._log_retry(pol, failures, failure, seconds, what)
        time.sleep(seconds)

    @staticmethod
    def _log_retry(pol: RetryPolicy, failures: int, failure: BaseException | None,
                   seconds: float, what: What) -> None:
        log.info("%s failed (attempt %d%s: %s); retrying in %.2fs", _text(what), failures,
                 f"/{pol.attempts}" if pol.attempts else "", _short(failure), seconds)

    # ---------------------------------------------------------------- API calls
    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.api_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        safe: bool | None = None,
        on_retry_conflict: Callable[[], Any] | None = None,
        conflict_error: type[CrucibleHTTPError] = ConflictError,
        auth: bool = True,
        allow_statuses: tuple[int, ...] = (),
    ) -> Any:
        """Call the API and return the decoded JSON body (``None`` when empty).

        ``safe`` defaults to True for GET/PUT/DELETE/HEAD and False for POST/PATCH.
        Statuses in ``allow_statuses`` return their body instead of raising.
        """
        method = method.upper()
        if safe is None:
            safe = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        url = self.url(path)
        session = self.api if auth else self.storage
        params = _encode_params(params)

        timeout = self.timeout

        def once(_attempt: int) -> Any:
            if not log.isEnabledFor(logging.DEBUG):
                resp = session.request(method, url, params=params, json=json, timeout=timeout)
            else:
                t0 = time.perf_counter()
                resp = session.request(method, url, params=params, json=json, timeout=timeout)
                log.debug("%s %s -> %d (%.1f ms)", method, redact_url(url), resp.status_code,
                          (time.perf_counter() - t0) * 1000)
            if resp.status_code >= 400 and resp.status_code not in allow_statuses:
                raise self.error_from(method, url, resp)
            return self.decode(method, url, resp)

        def what() -> str:
            return f"{method} {self._display(url)}"

        try:
            return self.retrying(once, safe=safe, on_retry_conflict=on_retry_conflict,
                                 conflict_error=conflict_error, what=what)
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as exc:
            raise CrucibleConnectionError(f"{what()}: no answer ({type(exc).__name__})") from exc

    def _display(self, url: str) -> str:
        """The API-relative path for messages (no host, no query)."""
        clean = redact_url(url)
        return clean[len(self.api_url):] or "/" if clean.startswith(self.api_url) else clean

    def decode(self, method: str, url: str, resp: requests.Response) -> Any:
        """JSON body of a 2xx response; an empty body is ``None``."""
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            raise CrucibleError(f"{method} {self._display(url)} -> {resp.status_code}: "
                                f"expected a JSON body, got "
                                f"{resp.headers.get('Content-Type', 'no content type')}"
                                ) from None

    def error_from(self, method: str, url: str, resp: requests.Response, *,
                   display: str | None = None) -> CrucibleHTTPError:
        """The typed error for an error response, with the server's detail (key redacted).
        ``display`` replaces the URL in the message (for capability URLs)."""
        detail: Any = None
        try:
            body = resp.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            for name in ("detail", "message", "error"):
                if body.get(name) not in (None, ""):
                    detail = body[name]
                    break
        elif body is not None:
            detail = body
        if detail is None and resp.text:
            detail = resp.text[:500]
        detail = self._scrub(detail)
        return error_for_status(method, display or self._display(url), resp.status_code, detail,
                                response=resp,
                                retry_after=_retry_after_seconds(resp.headers.get("Retry-After")))

    def _scrub(self, value: Any) -> Any:
        if not self._key:
            return value
        if isinstance(value, str):
            return value.replace(self._key, "****")
        if isinstance(value, list):
            return [self._scrub(v) for v in value]
        if isinstance(value, dict):
            return {k: self._scrub(v) for k, v in value.items()}
        return value


class _RetryableTransfer(Exception):
    """Raised by transfer code for a storage failure worth retrying (internal)."""


def _note(exc: BaseException, landed: list[bool]) -> None:
    """Remember that an attempt may have reached the server (all but 429 and connect time-outs)."""
    if not isinstance(exc, (RateLimitedError, requests.ConnectTimeout)):
        landed[0] = True


def _should_retry(exc: BaseException, retry_safe: bool, pol: RetryPolicy) -> bool:
    """Whether a failed attempt may be repeated (see the module docstring)."""
    if isinstance(exc, RateLimitedError):
        return True
    if isinstance(exc, requests.ConnectTimeout):
        return True  # nothing was sent
    if not retry_safe:
        return False
    if isinstance(exc, CrucibleHTTPError):
        return exc.status_code in pol.statuses
    return isinstance(exc, (requests.ConnectionError, requests.Timeout,
                            requests.exceptions.ChunkedEncodingError, _RetryableTransfer))


def _encode_params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Drop ``None`` values and send booleans as ``true``/``false``."""
    if not params:
        return None
    out: dict[str, Any] = {}
    for k, v in params.items():
        if v is None:
            continue
        out[k] = ("true" if v else "false") if isinstance(v, bool) else v
    return out


def _short(exc: BaseException | None) -> str:
    if exc is None:
        return "?"
    if isinstance(exc, CrucibleHTTPError):
        return f"HTTP {exc.status_code}"
    return type(exc).__name__


RetryableTransfer = _RetryableTransfer
__all__ += ["RetryableTransfer", "ServerError"]
