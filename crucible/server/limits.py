"""Guards on request bodies other than file bytes (JSON metadata, thumbnails, forms): a size limit,
and no lone UTF-16 surrogates.

File content has its own routes (resumable chunks, signed parts, the S-era multipart upload),
which stream to disk and check sizes themselves; every other body is read into memory by the
framework, so it is read here first, up to the cap: 413 from the ``Content-Length`` alone, or as
soon as a streamed body passes the cap, before any route sees it.
"""

from __future__ import annotations

import json
import re

#: Default cap for non-file bodies (metadata documents, thumbnails).
MAX_BODY_BYTES = 4 * 1024**2
_FILE_ROUTES = re.compile(r"^(/_uploads/|/_parts/|/api/v2/datasets/[^/]+/upload$)")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def has_lone_surrogate(body: bytes) -> bool:
    """True if a JSON body escapes a lone UTF-16 surrogate (``"\\ud800"``): such text cannot be
    stored or sent back as UTF-8, so it is refused before any route stores part of it."""
    if _SURROGATE_ESCAPE.search(body) is None:
        return False
    try:
        json.dumps(json.loads(body), ensure_ascii=False).encode("utf-8")
    except UnicodeError:
        return True
    except ValueError:  # not JSON: the route's own parsing answers it
        return False
    return False


def is_file_route(path: str) -> bool:
    return _FILE_ROUTES.match(path) is not None


class BodyLimit:
    """ASGI middleware refusing non-file request bodies larger than ``max_bytes`` (413) or
    escaping lone surrogates (422)."""

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
        body = b"".join(chunks)
        if has_lone_surrogate(body):
            await self._refuse(send, 422, b'{"detail":"Text must be valid Unicode (no lone surrogates)"}')
            return
        whole = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    async def _refuse(self, send, status: int = 413, body: bytes | None = None) -> None:
        body = body or (b'{"detail":"Request body larger than %d bytes; file content goes through '
                        b'the upload routes"}' % self.max_bytes)
        await send({"type": "http.response.start", "status": status,
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
