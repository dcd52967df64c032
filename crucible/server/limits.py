"""A size limit on request bodies other than file bytes (JSON metadata, thumbnails, forms).

File content has its own routes (resumable chunks, signed parts, the S-era multipart upload),
which stream to disk and check sizes themselves; every other body is read into memory by the
framework, so it is read here first, up to the cap: 413 from the ``Content-Length`` alone, or as
soon as a streamed body passes the cap, before any route sees it.
"""

from __future__ import annotations

import re

#: Default cap for non-file bodies (metadata documents, thumbnails).
MAX_BODY_BYTES = 4 * 1024**2
_FILE_ROUTES = re.compile(r"^(/_uploads/|/_parts/|/api/v2/datasets/[^/]+/upload$)")


def is_file_route(path: str) -> bool:
    return _FILE_ROUTES.match(path) is not None


class BodyLimit:
    """ASGI middleware refusing non-file request bodies larger than ``max_bytes`` with 413."""

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or is_file_route(scope["path"]):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        chunks, seen = [], 0
        while True:  # non-file bodies are read into memory anyway: read them here, capped
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    async def _refuse(self, send) -> None:
        body = (b'{"detail":"Request body larger than %d bytes; file content goes through '
                b'the upload routes"}' % self.max_bytes)
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _replay(messages: list, receive):
    """A ``receive`` that first hands out ``messages``, then defers to the real one."""
    pending = list(messages)

    async def replay():
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
