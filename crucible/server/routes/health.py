"""Health endpoints (no auth) and the caller's account."""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from ..accounts import update_user
from ..deps import DB, Who
from ..schemas import ProfileIn, set_fields
from ..records import user_record
from .. import responses as out
from .base import api_router

router = api_router(tags=["health"])
account_router = api_router(tags=["account"])

try:
    VERSION = version("crucible-prefect")
except PackageNotFoundError:  # pragma: no cover - source checkout without install
    VERSION = "0.0.0"


def _db_check(request: Request) -> tuple[bool, float]:
    t0 = time.perf_counter()
    try:
        with request.app.state.sessions() as db:
            db.execute(text("SELECT 1"))
        return True, (time.perf_counter() - t0) * 1000
    except Exception:  # noqa: BLE001 - health reports any DB failure as degraded
        return False, (time.perf_counter() - t0) * 1000


@router.get("/health", response_model=out.Health)
def health(request: Request):
    ok, _ = _db_check(request)
    return {"status": "ok" if ok else "degraded", "db": "ok" if ok else "error", "version": VERSION}


@router.get("/health/live", response_model=out.Status)
def live():
    return {"status": "ok"}


@router.get("/health/ready", response_model=out.Ready, responses={503: {"model": out.Ready}})
def ready(request: Request):
    ok, ms = _db_check(request)
    body = {"status": "ok" if ok else "degraded", "db": "ok" if ok else "error",
            "db_ms": round(ms, 3), "version": VERSION}
    return JSONResponse(body, status_code=200 if ok else 503)


@account_router.get("/account", response_model=out.Account)
def account(caller: Who, db: DB):
    return {"user_unique_id": caller.orcid, "access_group_ids": sorted(caller.groups),
            "user_info": user_record(caller.load_user(db))}


@account_router.get("/account/verify", response_model=out.KeyInfo)
def verify(caller: Who):
    return {"valid": True, "created_at": caller.key_created_at, "expires_at": None}


@account_router.get("/account/profile", response_model=out.User)
def profile(caller: Who, db: DB):
    return user_record(caller.load_user(db))


@account_router.patch("/account/profile", response_model=out.User)
def patch_profile(caller: Who, db: DB, body: ProfileIn):
    """Change one's own names or email; an email or username another user has is refused (409)."""
    update_user(db, caller.load_user(db), set_fields(body), keep_none=True)
    db.commit()
    return user_record(caller.load_user(db))
