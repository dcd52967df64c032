"""Admin-only controls for tests and demos (outside the API root; never fault-injected)."""

from __future__ import annotations

from typing import Optional

from fastapi import HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from ..auth import require_admin
from ..db import File
from ..deps import DB, Who
from .. import responses as out
from ..settings import INGEST_MODES
from .base import api_router

router = api_router(prefix="/_admin", tags=["admin"])


class FaultsIn(BaseModel):
    rate: float = Field(ge=0.0, le=1.0)
    seed: int = 0
    slow_s: float = Field(default=1.5, ge=0.0, le=30.0)


class IngestModeIn(BaseModel):
    mode: str


class RawNamesIn(BaseModel):
    """Names stored as given, unchecked: what a broken or hostile server might hand a client."""

    filename: Optional[str] = Field(default=None, max_length=100_000)
    storage_path: Optional[str] = Field(default=None, max_length=100_000)


def _faults_body(request: Request) -> dict:
    f = request.app.state.faults
    return {"rate": f.config.rate, "seed": f.config.seed, "slow_s": f.config.slow_s,
            "injected": dict(f.injected)}


@router.get("/faults", response_model=out.Faults)
def get_faults(request: Request, caller: Who):
    require_admin(caller)
    return _faults_body(request)


@router.post("/faults", response_model=out.Faults)
def set_faults(body: FaultsIn, request: Request, caller: Who):
    require_admin(caller)
    request.app.state.faults.configure(body.rate, body.seed, body.slow_s)
    return _faults_body(request)


@router.get("/ingest_mode", response_model=out.IngestMode)
def get_ingest_mode(request: Request, caller: Who):
    require_admin(caller)
    return {"mode": request.app.state.worker.mode}


@router.post("/ingest_mode", response_model=out.IngestMode)
def set_ingest_mode(body: IngestModeIn, request: Request, caller: Who):
    require_admin(caller)
    if body.mode not in INGEST_MODES:
        raise HTTPException(422, f"mode must be one of {list(INGEST_MODES)}")
    request.app.state.worker.mode = body.mode
    request.app.state.worker.wake()
    return {"mode": body.mode}


@router.post("/raw_file_names/{mfid}", response_model=out.RawFileNames)
def set_raw_file_names(mfid: str, body: RawNamesIn, db: DB, caller: Who):
    """Test support: give a file names the API itself refuses (``../x``, NUL, 300 characters),
    so client tests can show what a client does when a server returns such names."""
    require_admin(caller)
    f = db.scalar(select(File).where(File.mfid == mfid[:64]))
    if f is None:
        raise HTTPException(404, f"File {mfid} not found")
    if body.filename is not None:
        f.relpath = body.filename
    if body.storage_path is not None:
        f.storage_path = body.storage_path
    db.commit()
    return {"mfid": f.mfid, "filename": f.relpath, "storage_path": f.storage_path}
