"""The router every route module uses: sync endpoints run in a worker thread *as* coroutines.

FastAPI runs a sync endpoint in the thread pool and then, since it has a ``response_model``,
hops to the pool a second time to validate the answer. That second hop cost more than the
validation itself (about 0.2-0.3 ms of a 3-4 ms ``GET /datasets/{id}`` on a busy 2-core machine;
see docs/server.md, Performance). Here a sync endpoint is wrapped in a coroutine that runs it in
the pool, so FastAPI treats it as async: one hop for the endpoint, and the answer is validated
and serialised on the event loop by pydantic-core (far cheaper than the ``jsonable_encoder`` pass
FastAPI ran there for routes without a model).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool


def in_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` as a coroutine function that runs it in the thread pool (same signature)."""

    @functools.wraps(endpoint)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(endpoint, *args, **kwargs)

    return run


class ThreadedRoute(APIRoute):
    """An ``APIRoute`` whose sync endpoint runs through ``in_thread``."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = in_thread(endpoint)
        super().__init__(path, endpoint, **kwargs)


def api_router(**kwargs: Any) -> APIRouter:
    """``APIRouter(**kwargs)`` with ``ThreadedRoute`` routes."""
    return APIRouter(route_class=ThreadedRoute, **kwargs)
