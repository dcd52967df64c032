"""Domain errors raised by services, and the one place that maps them (and database limits) to HTTP.

Services raise ``NotFound``, ``Forbidden``, ``Conflict``, ``Invalid`` or ``TooLarge``; routes do not
translate them. Two database failures are answered here too, so bad input never becomes a 500:
an integer too large for SQLite (422) and a unique constraint lost to a concurrent writer (409).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
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


async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)


async def _overflow(_request: Request, exc: OverflowError) -> JSONResponse:
    return JSONResponse({"detail": f"A number is out of range (at most {MAX_INT}): {exc}"},
                        status_code=422)


async def _integrity(request: Request, _exc: IntegrityError) -> JSONResponse:
    return JSONResponse({"detail": "Conflicts with a concurrent or existing change; retry"},
                        status_code=409)


def install_error_handlers(app: FastAPI) -> None:
    """Answer domain errors and database limits with clear 4xx responses."""
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(OverflowError, _overflow)
    app.add_exception_handler(IntegrityError, _integrity)
