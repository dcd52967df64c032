"""Pytest fixtures for flows and tasks that talk to a real Prefect API.

Use them in your own tests with ``pytest_plugins = ["crucible_prefect.testing"]`` (or import the
fixtures into a ``conftest.py``). ``prefect_backend`` starts a temporary Prefect server on a
free loopback port with its own ``PREFECT_HOME`` and stops it at the end of the session, whatever
``PREFECT_API_URL`` says: tests save blocks, deploy flows and create automations, and must never
do that on a user's own server. To reuse a running server (faster), name it explicitly in
``CRUCIBLE_TEST_PREFECT_API_URL``. Heartbeats are switched off: they add ~1 s to every flow run
and only matter in production.

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
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import pytest
import requests

if TYPE_CHECKING:
    from crucible_prefect.credentials import CrucibleCredentials

__all__ = ["prefect_backend", "crucible_credentials", "start_prefect_server",
           "drain_prefect_workers", "read_task_runs", "read_stored_events",
           "CREDENTIALS_BLOCK_NAME", "TEST_API_URL_ENV", "existing_api_url"]

SERVER_START_TIMEOUT_S = 120.0
#: Name under which ``crucible_credentials`` saves its block.
CREDENTIALS_BLOCK_NAME = "crucible-test"
#: The only way to run the tests against an existing Prefect server (PREFECT_API_URL is ignored).
TEST_API_URL_ENV = "CRUCIBLE_TEST_PREFECT_API_URL"
#: Settings of the user's own Prefect server that the test session hides (and puts back after).
_USER_PREFECT_ENV = ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING")


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


def existing_api_url(environ: Mapping[str, str]) -> str | None:
    """The running Prefect API the tests may use: ``CRUCIBLE_TEST_PREFECT_API_URL`` only.

    ``PREFECT_API_URL`` never counts: it usually points at the user's own server, where tests
    would overwrite blocks, deploy flows and create automations.
    """
    return environ.get(TEST_API_URL_ENV) or None


@pytest.fixture(scope="session")
def prefect_backend() -> Iterator[str]:
    """A Prefect API URL for the whole session, with heartbeats off; yields the URL.

    A temporary server unless ``CRUCIBLE_TEST_PREFECT_API_URL`` names one; the user's
    ``PREFECT_API_URL`` (and API key) are hidden for the session, so neither this process nor
    the subprocesses tests start can reach the user's server. Task results that Prefect persists
    (cached tasks) go to a temporary directory, not to ``~/.prefect/storage``.
    """
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    saved = {name: os.environ.pop(name) for name in _USER_PREFECT_ENV if name in os.environ}
    proc = None
    tmp = None
    try:
        api_url = existing_api_url(os.environ) or ""
        if not api_url:
            tmp = tempfile.TemporaryDirectory(prefix="prefect-home-")
            api_url, proc = start_prefect_server(Path(tmp.name))
        os.environ["PREFECT_API_URL"] = api_url
        yield from _with_api(api_url)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if tmp is not None:
            tmp.cleanup()
        os.environ.pop("PREFECT_API_URL", None)
        os.environ.update(saved)


def _with_api(api_url: str) -> Iterator[str]:
    """Point this process's Prefect settings at ``api_url`` while the session runs."""
    from prefect.settings import (
        PREFECT_API_AUTH_STRING,
        PREFECT_API_KEY,
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_LOCAL_STORAGE_PATH,
        temporary_settings,
    )

    with tempfile.TemporaryDirectory(prefix="prefect-results-") as results:
        with temporary_settings(
            updates={PREFECT_API_URL: api_url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
                     PREFECT_LOCAL_STORAGE_PATH: Path(results)},
            restore_defaults={PREFECT_API_KEY, PREFECT_API_AUTH_STRING},
        ):
            try:
                yield api_url
            finally:
                drain_prefect_workers()  # while the settings still point at this API


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
    window = EventOccurredFilter.model_validate(
        {"since": now - dt.timedelta(days=1), "until": now + dt.timedelta(days=1)})

    def read(ids: list[str]) -> list:
        wanted = EventIDFilter(id=[uuid.UUID(i) for i in ids])
        return client.read_events(filter=EventFilter(id=wanted, occurred=window), limit=50).events

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
