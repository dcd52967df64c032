"""copy_url reads plain bodies straight into reused buffers, hashed beside the copy; breaks,
ignored ranges and chunked bodies still come out whole and verified."""

from __future__ import annotations

import hashlib
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crucible.errors import ChecksumMismatchError
from crucible.transfer import copy_url, stream_url
from crucible.transfer.stream import _SideHash
from crucible.transport import RetryPolicy, Transport

BODY = bytes(range(256)) * 4096  # 1 MiB


class _Flaky(BaseHTTPRequestHandler):
    """Sends the first ``cut`` bytes of each of the first ``breaks`` answers, then hangs up."""

    protocol_version = "HTTP/1.1"
    breaks = 0
    cut = 300_000
    honour_range = True
    chunked = False
    requests: list[str | None] = []

    def do_GET(self):  # noqa: N802
        cls = type(self)
        rng = self.headers.get("Range")
        cls.requests.append(rng)
        start = int(rng.split("=")[1].split("-")[0]) if rng and cls.honour_range else 0
        body = BODY[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(BODY) - 1}/{len(BODY)}")
        if cls.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 100_000):
                piece = body[i:i + 100_000]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if cls.breaks > 0:
            cls.breaks -= 1
            self.wfile.write(body[:cls.cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _Flaky.requests = []
    _Flaky.breaks, _Flaky.honour_range, _Flaky.chunked = 0, True, False
    transport = Transport("", None, retry=RetryPolicy(deadline=20, backoff=0.01))
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/blob?sig=x", transport
    finally:
        transport.close()
        srv.shutdown()
        srv.server_close()


def _copy(url: str, transport: Transport, chunk_size: int = 64 * 1024) -> bytes:
    out = io.BytesIO()
    res = copy_url(url, out, expected_sha256=hashlib.sha256(BODY).hexdigest(),
                   expected_size=len(BODY), transport=transport, chunk_size=chunk_size)
    assert res.size == len(BODY)
    return out.getvalue()


def test_plain_body_round_trips(flaky):
    url, transport = flaky
    assert _copy(url, transport) == BODY
    assert _copy(url, transport, chunk_size=3 * 1024 * 1024) == BODY  # buffer > body


def test_a_broken_body_resumes_with_range(flaky):
    url, transport = flaky
    _Flaky.breaks = 2
    assert _copy(url, transport) == BODY
    assert _Flaky.requests[0] is None and all(r and r.startswith("bytes=")
                                              for r in _Flaky.requests[1:])
    assert len(_Flaky.requests) == 3


def test_a_server_ignoring_range_is_skipped_forward(flaky):
    url, transport = flaky
    _Flaky.breaks, _Flaky.honour_range = 1, False
    assert _copy(url, transport) == BODY
    assert len(_Flaky.requests) == 2


def test_chunked_bodies_take_the_general_path(flaky):
    url, transport = flaky
    _Flaky.chunked = True
    assert _copy(url, transport) == BODY
    assert b"".join(stream_url(url, transport=transport, start=10)) == BODY[10:]


def test_stream_url_yields_bytes_that_stay_valid(flaky):
    url, transport = flaky
    chunks = list(stream_url(url, transport=transport, chunk_size=100_000))
    assert all(isinstance(c, bytes) for c in chunks) and b"".join(chunks) == BODY


def test_a_wrong_digest_is_caught_and_the_hash_thread_ends(flaky):
    url, transport = flaky
    with pytest.raises(ChecksumMismatchError):
        copy_url(url, io.BytesIO(), expected_sha256="0" * 64, transport=transport,
                 chunk_size=64 * 1024)
    assert not [t for t in threading.enumerate() if t.name == "sha256"]


def test_the_side_hash_reuses_at_most_depth_buffers_in_order():
    hasher = _SideHash(chunk_size=1000, depth=2)
    want = hashlib.sha256()
    for i in range(50):
        buf = hasher.take()
        piece = bytes([i]) * (1000 - i)
        buf[:len(piece)] = piece
        hasher.update(memoryview(buf)[:len(piece)])
        want.update(piece)
    assert hasher.hexdigest() == want.hexdigest()
    assert hasher._made <= 2
