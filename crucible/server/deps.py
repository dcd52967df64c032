"""FastAPI dependencies shared by the routers: DB session, caller, paging parameters."""

from __future__ import annotations

from typing import Annotated, AsyncIterator

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from .auth import Caller, authenticate
from .errors import MAX_INT
from .settings import Settings


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One session per request; anything not committed by the handler is rolled back.

    The dependencies are ``async`` on purpose: creating a session does no I/O, and the auth
    lookup is two indexed SQLite reads (WAL readers never wait for writers). Keeping them off the
    thread pool leaves one thread hop per request (the endpoint), which doubles throughput.
    """
    db = request.app.state.sessions()
    try:
        yield db
    finally:
        db.close()


async def get_caller(request: Request, db: Annotated[Session, Depends(get_db)]) -> Caller:
    return authenticate(db, request.headers.get("authorization"))


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


DB = Annotated[Session, Depends(get_db)]
Who = Annotated[Caller, Depends(get_caller)]
Conf = Annotated[Settings, Depends(get_settings)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=MAX_INT)]
#: A numeric id in a path (ingestion, deletion, join requests, thumbnails, audit rows).
IntId = Annotated[int, Path(ge=0, le=MAX_INT)]
SearchLimit = Annotated[int, Query(ge=1, le=50)]
SearchQ = Annotated[str, Query(min_length=3)]
