"""Build the ASGI application: FastAPI routers under ``/api/v2`` wrapped in fault injection."""

from __future__ import annotations

import secrets
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .accounts import bootstrap_admin
from .db import ServerState, open_database
from .errors import install_error_handlers
from .faults import FaultInjector
from .ingestor import IngestWorker
from .limits import BodyLimit
from .responses import ERRORS
from .routes import (
    admin, datasets, deletions, files, graphs, health, ingestion, instruments, joins, legacy_upload,
    multipart, projects, resources, search, uploads, users,
)
from .routes.entities import make_entity_router
from .schemas import DatasetIn, SampleIn
from .settings import API_PREFIX, Settings
from .signing import Signer
from .storage import Storage


def _signing_secret(sessions) -> bytes:
    """A per-data-dir secret, so signed URLs survive a restart."""
    with sessions() as db:
        row = db.get(ServerState, "signing_secret")
        if row is None:
            row = ServerState(key="signing_secret", value=secrets.token_hex(32))
            db.add(row)
            db.commit()
        return bytes.fromhex(row.value)


def _api_routers() -> list:
    """The routers mounted under the API root."""
    return [health.router, health.account_router, users.router,
            make_entity_router("dataset", "datasets", DatasetIn),
            make_entity_router("sample", "samples", SampleIn), datasets.router, files.router,
            ingestion.router, resources.router, projects.router, instruments.router,
            graphs.router, deletions.router, search.router, joins.router, legacy_upload.router,
            multipart.router]


def _raw_routers() -> list:
    """Routers outside the API root: keyless capability URLs (uploads, parts, downloads), the
    admin controls and a root ``/health`` for probes."""
    return [health.router, files.raw_router, uploads.router, multipart.raw_router, admin.router]


def create_fastapi(settings: Settings) -> FastAPI:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sessions = open_database(settings.db_path)
    storage = Storage(settings.data_dir)
    worker = IngestWorker(sessions, storage, settings.ingest_mode)
    if settings.admin_key:
        with sessions() as db:
            bootstrap_admin(db, settings.admin_key)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        worker.start()
        try:
            yield
        finally:
            worker.stop()
            sessions.kw["bind"].dispose()

    app = FastAPI(title="Crucible (local)", version=health.VERSION, lifespan=lifespan,
                  docs_url="/docs", openapi_url="/openapi.json")
    install_error_handlers(app)
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.storage = storage
    app.state.worker = worker
    app.state.upload_states = {}
    app.state.signer = Signer(_signing_secret(sessions), settings.public_url, settings.link_ttl_s)
    for router in _api_routers():
        app.include_router(router, prefix=API_PREFIX, responses=ERRORS)
    for router in _raw_routers():
        app.include_router(router, responses=ERRORS)
    return app


class ServerApp(FaultInjector):
    """The app the server runs: the fault injector around the body-size limit around ``fastapi``
    (whose ``state`` holds the sessions, storage and worker, and this injector as ``faults``)."""

    def __init__(self, fastapi: FastAPI, settings: Settings) -> None:
        super().__init__(BodyLimit(fastapi, settings.max_body_bytes), settings.fail_rate,
                         settings.fail_seed)
        self.fastapi = fastapi
        fastapi.state.faults = self


def create_app(settings: Settings) -> ServerApp:
    """The full ASGI app; ``.fastapi`` reaches the inner FastAPI app."""
    return ServerApp(create_fastapi(settings), settings)
