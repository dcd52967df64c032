"""Shared fixtures: the local Crucible server and a Prefect backend (see docs/architecture.md)."""

from __future__ import annotations

import os

# Tests never read the developer's own Crucible or Prefect configuration (CRUCIBLE_TEST_* are
# the tests' own settings; prefect_backend hides PREFECT_API_URL and starts its own server).
for _name in [n for n in os.environ if n.startswith("CRUCIBLE_") and not n.startswith("CRUCIBLE_TEST_")]:
    os.environ.pop(_name)
for _name in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING"):
    os.environ.pop(_name, None)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from crucible.server.testing import *  # noqa: F401,F403,E402
from crucible_prefect.testing import *  # noqa: F401,F403,E402


# -- an HTTP gateway in front of the local server (a real proxy, as a load balancer would be) ----
import threading  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from typing import Callable, Optional  # noqa: E402
from urllib.parse import parse_qsl, urlencode, urlsplit  # noqa: E402

import pytest  # noqa: E402
import requests  # noqa: E402

_HOP_HEADERS = {"host", "connection", "transfer-encoding", "content-length", "content-encoding",
                "keep-alive"}


class Gateway(ThreadingHTTPServer):
    """Relays requests to ``upstream``; ``answer(method, path)`` may answer a status itself
    (a 502 from a load balancer), ``drop_params`` are removed from query strings (an API that
    ignores them), ``delay(method, path)`` holds a request before relaying it,
    ``rewrite(method, path, body)`` changes an answer's body. ``seen`` lists
    (method, path, query) and ``max_in_flight[label]`` the most concurrent requests per label."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _GatewayHandler)
        self.upstream = upstream.rstrip("/")
        self.answer: Callable[[str, str], Optional[int]] = lambda method, path: None
        self.drop_params: set[str] = set()
        self.delay: Callable[[str, str], float] = lambda method, path: 0.0
        self.label: Callable[[str, str], Optional[str]] = lambda method, path: None
        self.rewrite: Callable[[str, str, bytes], bytes] = lambda method, path, body: body
        self.seen: list[tuple[str, str, dict]] = []
        self.max_in_flight: dict[str, int] = {}
        self._in_flight: dict[str, int] = {}
        self.lock = threading.Lock()
        self.session = requests.Session()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def enter(self, label: Optional[str]) -> None:
        if label:
            with self.lock:
                self._in_flight[label] = self._in_flight.get(label, 0) + 1
                self.max_in_flight[label] = max(self.max_in_flight.get(label, 0),
                                                self._in_flight[label])

    def leave(self, label: Optional[str]) -> None:
        if label:
            with self.lock:
                self._in_flight[label] -= 1


class _GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _relay(self) -> None:
        gw: Gateway = self.server  # type: ignore[assignment]
        parts = urlsplit(self.path)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                 if k not in gw.drop_params]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with gw.lock:
            gw.seen.append((self.command, parts.path, dict(query)))
        status = gw.answer(self.command, parts.path)
        if status:
            data = b'{"detail": "gateway"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        label = gw.label(self.command, parts.path)
        gw.enter(label)
        try:
            import time

            time.sleep(gw.delay(self.command, parts.path))
            url = gw.upstream + parts.path + ("?" + urlencode(query) if query else "")
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
            r = gw.session.request(self.command, url, headers=headers, data=body or None,
                                   allow_redirects=False, timeout=120)
        finally:
            gw.leave(label)
        content = gw.rewrite(self.command, parts.path, r.content)
        self.send_response(r.status_code)
        for k, v in r.headers.items():
            if k.lower() not in _HOP_HEADERS:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _relay


@pytest.fixture
def gateway(crucible_server):
    """A :class:`Gateway` in front of the session's local server; ``gateway.api`` is the API
    root through it."""
    upstream = urlsplit(crucible_server.url)
    gw = Gateway(f"{upstream.scheme}://{upstream.netloc}")
    gw.api = gw.base + upstream.path  # type: ignore[attr-defined]
    thread = threading.Thread(target=gw.serve_forever, daemon=True)
    thread.start()
    try:
        yield gw
    finally:
        gw.shutdown()
        gw.server_close()
