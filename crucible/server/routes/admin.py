"""Admin-only controls for tests and demos (outside the API root; never fault-injected)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from ..auth import require_admin
from ..deps import Who
from ..settings import INGEST_MODES

router = APIRouter(prefix="/_admin", tags=["admin"])


class FaultsIn(BaseModel):
    rate: float = Field(ge=0.0, le=1.0)
    seed: int = 0
    slow_s: float = Field(default=1.5, ge=0.0, le=30.0)


class IngestModeIn(BaseModel):
    mode: str


def _faults_body(request: Request) -> dict:
    f = request.app.state.faults
    return {"rate": f.config.rate, "seed": f.config.seed, "slow_s": f.config.slow_s,
            "injected": dict(f.injected)}


@router.get("/faults")
def get_faults(request: Request, caller: Who):
    require_admin(caller)
    return _faults_body(request)


@router.post("/faults")
def set_faults(body: FaultsIn, request: Request, caller: Who):
    require_admin(caller)
    request.app.state.faults.configure(body.rate, body.seed, body.slow_s)
    return _faults_body(request)


@router.get("/ingest_mode")
def get_ingest_mode(request: Request, caller: Who):
    require_admin(caller)
    return {"mode": request.app.state.worker.mode}


@router.post("/ingest_mode")
def set_ingest_mode(body: IngestModeIn, request: Request, caller: Who):
    require_admin(caller)
    if body.mode not in INGEST_MODES:
        raise HTTPException(422, f"mode must be one of {list(INGEST_MODES)}")
    request.app.state.worker.mode = body.mode
    request.app.state.worker.wake()
    return {"mode": body.mode}
