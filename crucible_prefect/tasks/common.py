"""What every Crucible task shares: the decorator, credential resolution and the logger."""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any, Callable, TypeVar, Union, cast

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger

from crucible_prefect.credentials import CrucibleCredentials
from crucible_prefect.retry import (
    TASK_RETRIES,
    TASK_RETRY_DELAY_SECONDS,
    TASK_RETRY_JITTER_FACTOR,
    retry_on_transient,
)

if TYPE_CHECKING:
    from crucible import CrucibleClient

__all__ = ["Credentials", "CRUCIBLE_TAG", "crucible_task", "client_for", "plain",
           "resolve_credentials", "run_logger", "stable_mfid"]

#: A saved block, the name of one, or None for the plain client's environment/config file.
Credentials = Union[CrucibleCredentials, str, None]

#: Every task carries this tag, so one tag concurrency limit throttles all Crucible API calls.
CRUCIBLE_TAG = "crucible"

F = TypeVar("F", bound=Callable[..., Any])


def crucible_task(fn: F | None = None, *, retries: int = TASK_RETRIES, **options: Any) -> Any:
    """``@task`` with the Crucible defaults: tag, transient-only retries, no result cache.

    Caching is off unless a task opts in with a policy that can never return a wrong result
    (see `crucible_prefect.tasks.caching`). Override any of it per call site with
    ``.with_options(...)``.
    """
    settings: dict[str, Any] = dict(
        tags=[CRUCIBLE_TAG],
        retries=retries,
        retry_delay_seconds=TASK_RETRY_DELAY_SECONDS if retries else 0,
        retry_jitter_factor=TASK_RETRY_JITTER_FACTOR if retries else None,
        retry_condition_fn=retry_on_transient,
        cache_policy=NO_CACHE,
    )
    settings.update(options)
    if fn is None:
        return lambda f: task(f, **settings)
    return task(fn, **settings)


def resolve_credentials(credentials: Credentials) -> CrucibleCredentials:
    """A block from a block, a block name, or (None) the plain client's configuration."""
    if isinstance(credentials, CrucibleCredentials):
        return credentials
    if isinstance(credentials, str):
        if not credentials.strip():
            raise ValueError("credentials: an empty block name; pass a saved block's name")
        return cast(CrucibleCredentials, CrucibleCredentials.load(credentials))
    if credentials is None:
        from crucible.config import resolve_config

        config = resolve_config(require_key=False)
        if not config.api_key:
            raise ValueError(
                "No Crucible credentials: pass a CrucibleCredentials block (or its name), or set "
                "CRUCIBLE_API_KEY / the nano-crucible config file for the plain client."
            )
        return CrucibleCredentials(
            api_url=config.api_url,
            api_key=config.api_key,  # type: ignore[arg-type]  # pydantic makes it a SecretStr
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
        )
    raise TypeError(
        f"credentials must be a CrucibleCredentials block, a block name or None, "
        f"not {type(credentials).__name__}"
    )


def client_for(credentials: Credentials) -> "CrucibleClient":
    """The process-wide client for ``credentials`` (see `CrucibleCredentials.get_client`)."""
    return resolve_credentials(credentials).get_client()


def stable_mfid(payload: Any = None) -> str:
    """An MFID that is the same on every retry of this task run and new for any other run.

    Inside a task run it is derived from the run's id (a UUIDv7, so the MFID keeps its time
    order) and ``payload``, so a retried create sends the id its first attempt sent and the
    server can answer 409 instead of making a duplicate. Outside a run it is a fresh MFID.
    """
    from crucible.mfid import new_mfid, seeded_mfid
    from prefect.context import TaskRunContext

    ctx = TaskRunContext.get()
    if ctx is None or ctx.task_run is None:
        return new_mfid()
    text = json.dumps(payload, sort_keys=True, default=str).encode()
    millis = ctx.task_run.id.int >> 80  # a UUIDv7's first 48 bits: its creation time in ms
    return seeded_mfid(ctx.task_run.id.bytes + text, millis)


def plain(value: Any) -> Any:
    """JSON-able copy of a client result: pydantic models become dicts, tuples lists."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """The Prefect run logger inside a run; a plain logger when called as ``task.fn(...)``."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("crucible_prefect")


def create_once(kind: str, namespace: Any, record: dict[str, Any],
                same: tuple[str, ...]) -> dict[str, Any]:
    """The client's ``create_once`` with the task's id: the caller's ``unique_id``, else
    :func:`stable_mfid`, so every attempt of one task run sends the same id."""
    record = dict(record)
    if not record.get("unique_id"):
        record["unique_id"] = stable_mfid({"kind": kind, **record})
    made, created = namespace.create_once(record, same=same)
    if not created:
        run_logger().info("%s %s exists already (made by an earlier attempt or run); reusing it",
                          kind, record["unique_id"])
    return plain(made)
