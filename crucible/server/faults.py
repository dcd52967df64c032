"""Fault injection: a deterministic fraction of requests fails like a flaky network or backend.

Kinds: ``503``, ``429`` (with ``Retry-After: 1``), ``drop`` (connection closed, no response),
``slow`` (answered correctly after a pause, 1.5 s by default), and ``commit_drop`` (the handler runs and commits,
then the connection is closed without a response: the case that makes naive retries duplicate
work). The decision for the n-th eligible request depends only on (seed, n), so a run with the
same seed and request order sees the same faults.

Health endpoints and ``/_admin/*`` are never faulted. This is a raw ASGI wrapper placed outside
the FastAPI app, so ``receive`` is uvicorn's own bound method and we can reach the transport.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)
KINDS = ("503", "429", "drop", "slow", "commit_drop")
SLOW_S = 1.5
EXEMPT_PREFIXES = ("/_admin", "/api/v2/health", "/health", "/docs", "/openapi.json")


@dataclass
class FaultConfig:
    rate: float = 0.0
    seed: int = 0
    slow_s: float = SLOW_S


class FaultInjector:
    """ASGI middleware; ``configure(rate, seed)`` changes it at runtime (resets the counter)."""

    def __init__(self, app, rate: float = 0.0, seed: int = 0) -> None:
        self.app = app
        self._lock = threading.Lock()
        self.configure(rate, seed)

    def configure(self, rate: float, seed: int = 0, slow_s: float = SLOW_S) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("fault rate must be between 0 and 1")
        with self._lock:
            self.config = FaultConfig(rate, seed, slow_s)
            self._counter = itertools.count()
            self.injected: dict[str, int] = {k: 0 for k in KINDS}

    def decide(self) -> str | None:
        """The fault for the next eligible request, or None."""
        with self._lock:
            cfg, n = self.config, next(self._counter)
        if cfg.rate <= 0:
            return None
        digest = hashlib.sha256(f"{cfg.seed}:{n}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        if u >= cfg.rate:
            return None
        kind = KINDS[digest[8] % len(KINDS)]
        with self._lock:
            self.injected[kind] += 1
        return kind

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        kind = self.decide()
        if kind is None:
            await self.app(scope, receive, send)
        elif kind in ("503", "429"):
            await _reply_error(send, int(kind))
        elif kind == "slow":
            await asyncio.sleep(self.config.slow_s)
            await self.app(scope, receive, send)
        elif kind == "drop":
            await _drop(receive)
        else:
            await self.app(scope, receive, _swallow)
            await _drop(receive)


async def _swallow(message) -> None:
    """Accept the app's response messages and throw them away."""


async def _reply_error(send, status: int) -> None:
    body = b'{"detail":"Injected fault: service unavailable"}' if status == 503 else \
        b'{"detail":"Injected fault: too many requests"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 429:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _drop(receive) -> None:
    """Close the client connection without sending a byte of response.

    uvicorn passes ``receive`` as a bound method of its per-request cycle object, which holds the
    asyncio transport. Closing it makes the client see the connection end before any status
    line; uvicorn then marks the cycle disconnected and does not try to answer.
    """
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:  # not under uvicorn: the best we can do is an error
        raise ConnectionAbortedError("injected connection drop")
    transport.close()
    for _ in range(100):
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0.001)
