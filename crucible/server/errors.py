"""Domain errors raised by services, and the one place that maps them (and database limits) to HTTP.

Services raise ``NotFound``, ``Forbidden``, ``Conflict``, ``Invalid`` or ``TooLarge``; routes do not
translate them. Some failures of the layers below are answered here too, so bad input never
becomes a 500: an integer too large for SQLite (422), text that is not valid Unicode (422), and a
unique constraint lost to a concurrent writer (409).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

#: Largest integer SQLite stores (signed 64 bit); ids, offsets and sizes above it are refused.
MAX_INT = 2**63 - 1


class DomainError(Exception):
    """A refusal with a message for the client; ``status`` is its HTTP code."""

    status = 400

    def __init__(self, detail: Any) -> None:
        super().__init__(detail)
        self.detail = detail  # text, or FastAPI's list of {loc, msg, type} for a bad parameter


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class Invalid(DomainError):
    status = 422


class TooLarge(DomainError):
    status = 413


class AsciiJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped, so text the client sent that is not valid Unicode (a lone
    surrogate such as ``"\\ud800"``) can be echoed back instead of failing to encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
    return AsciiJSONResponse({"detail": exc.detail}, status_code=exc.status)


async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
    return AsciiJSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)


async def _unicode(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "Text must be valid Unicode (no lone surrogates)"}, status_code=422)


async def _overflow(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": f"A number is out of range (at most {MAX_INT}): {exc}"},
                        status_code=422)


async def _integrity(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "Conflicts with a concurrent or existing change; retry"},
                        status_code=409)


def install_error_handlers(app: FastAPI) -> None:
    """Answer domain errors and database limits with clear 4xx responses."""
    # Starlette types every handler as taking ``Exception``, though it only passes instances of the
    # class the handler was registered for, so handlers reading a subclass's attributes are refused
    # (https://github.com/Kludex/starlette/issues/2417). The other three need no more than
    # ``Exception`` and are typed so.
    app.add_exception_handler(DomainError, _domain)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(UnicodeError, _unicode)
    app.add_exception_handler(OverflowError, _overflow)
    app.add_exception_handler(IntegrityError, _integrity)
