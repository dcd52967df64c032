"""Pytest fixtures for flows and tasks that talk to a real Prefect API.

Use them in your own tests with ``pytest_plugins = ["crucible_prefect.testing"]`` (or import the
fixtures into a ``conftest.py``). ``prefect_backend`` reuses ``PREFECT_API_URL`` when it is set
(fast: a running ``prefect server start``), otherwise it starts a temporary Prefect server on a
free loopback port with its own ``PREFECT_HOME`` and stops it at the end of the session.
Heartbeats are switched off: they add ~1 s to every flow run and only matter in production.

``crucible_credentials`` is a saved `CrucibleCredentials` block pointing at the local Crucible
server (``crucible_server``) with a normal user's key (``crucible_user``); those two fixtures come
from ``crucible.server.testing``, so list both plugins::

    pytest_plugins = ["crucible.server.testing", "crucible_prefect.testing"]
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest
import requests

if TYPE_CHECKING:
    from crucible_prefect.credentials import CrucibleCredentials

__all__ = ["prefect_backend", "crucible_credentials", "start_prefect_server",
           "drain_prefect_workers", "read_task_runs", "read_stored_events",
           "CREDENTIALS_BLOCK_NAME"]

SERVER_START_TIMEOUT_S = 120.0
#: Name under which ``crucible_credentials`` saves its block.
CREDENTIALS_BLOCK_NAME = "crucible-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(api_url: str, proc: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited early; log:\n{log_path.read_text()[-4000:]}")
        try:
            if requests.get(f"{api_url}/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"prefect server did not become healthy; log:\n{log_path.read_text()[-4000:]}")


def start_prefect_server(home: Path) -> tuple[str, subprocess.Popen]:
    """Start ``prefect server start`` on a free loopback port; return (api_url, process)."""
    port = _free_port()
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_API_URL="")
    log_path = home / "server.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    api_url = f"http://127.0.0.1:{port}/api"
    try:
        _wait_healthy(api_url, proc, log_path)
    except Exception:
        proc.kill()
        raise
    return api_url, proc


@pytest.fixture(scope="session")
def prefect_backend() -> Iterator[str]:
    """A Prefect API URL for the whole session, with heartbeats off; yields the URL.

    Task results that Prefect persists (cached tasks) go to a temporary directory, not to
    ``~/.prefect/storage``.
    """
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_LOCAL_STORAGE_PATH,
        temporary_settings,
    )

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    existing = os.environ.get("PREFECT_API_URL")
    proc = None
    tmp = None
    if existing:
        api_url = existing
    else:
        tmp = tempfile.TemporaryDirectory(prefix="prefect-home-")
        api_url, proc = start_prefect_server(Path(tmp.name))
        os.environ["PREFECT_API_URL"] = api_url
    results = tempfile.TemporaryDirectory(prefix="prefect-results-")
    try:
        with temporary_settings(
            updates={PREFECT_API_URL: api_url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
                     PREFECT_LOCAL_STORAGE_PATH: Path(results.name)}
        ):
            try:
                yield api_url
            finally:
                drain_prefect_workers()  # while the settings still point at this API
    finally:
        if proc is not None:
            os.environ.pop("PREFECT_API_URL", None)
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if tmp is not None:
            tmp.cleanup()
        results.cleanup()


def drain_prefect_workers() -> None:
    """Send queued run logs and events to the API now, while it is still up.

    Prefect ships logs and events from background workers; stopping the server with items still
    queued makes them report "Error logging to API ... All connection attempts failed" at exit.
    """
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        for call in (lambda: APILogWorker.instance().drain(), EventsWorker.drain_all):
            try:
                pending: Any = call()
                if inspect.isawaitable(pending):
                    await pending
            except RuntimeError:  # the worker was never started
                pass

    run_coro_as_sync(drain())


@pytest.fixture(scope="session")
def crucible_credentials(prefect_backend, crucible_server, crucible_user) -> "CrucibleCredentials":
    """A `CrucibleCredentials` block saved as ``crucible-test``: the local server, a user's key."""
    from crucible_prefect.credentials import CrucibleCredentials

    block = CrucibleCredentials(api_url=crucible_server.url, api_key=crucible_user.api_key,
                                retry_deadline=30.0)
    block.save(CREDENTIALS_BLOCK_NAME, overwrite=True)
    return block


def read_task_runs(flow_run_id: Any, expected: int, timeout: float = 60.0) -> list:
    """The flow run's task runs as the Prefect API has them, once ``expected`` of them are in
    a final state.

    Task-run states reach the API as events and are recorded asynchronously, so right after a
    flow returns the API may not show all of them yet; this waits (up to ``timeout`` seconds)
    instead of racing. Returns them oldest first.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    drain_prefect_workers()
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC)
            final = [r for r in runs if r.state is not None and r.state.is_final()]
            if len(final) >= expected or time.monotonic() > deadline:
                return runs
            time.sleep(0.2)


def read_stored_events(event_id: str, timeout: float = 60.0) -> list:
    """Every event with ``event_id`` that the Prefect API stored, once it stored all sent so far.

    The server persists events asynchronously, so the first non-empty read can come before a
    duplicate is stored. This posts a marker event and waits until the marker is readable (the
    server persists events in the order it received them), then reads all events with the id.
    """
    import datetime as dt
    import uuid

    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventIDFilter, EventOccurredFilter

    now = dt.datetime.now(dt.timezone.utc)
    marker = str(uuid.uuid4())
    window = EventOccurredFilter(since=now - dt.timedelta(days=1), until=now + dt.timedelta(days=1))

    def read(ids: list[str]) -> list:
        return client.read_events(filter=EventFilter(id=EventIDFilter(id=ids), occurred=window),
                                  limit=50).events

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        response = client.request("POST", "/events", json=[{
            "id": marker, "occurred": now.isoformat(), "event": "crucible.test.barrier",
            "resource": {"prefect.resource.id": "crucible.test.barrier"}}])
        response.raise_for_status()
        while not read([marker]):
            if time.monotonic() > deadline:
                raise TimeoutError("the Prefect API did not store the marker event")
            time.sleep(0.2)
        return read([event_id])
