"""The API key never reaches Prefect: not in parameters, task runs, states, events, results
or logs.

Everything is read back through the Prefect API after the flow ran, as the UI would show it.
"""

from __future__ import annotations

import pickle
import base64
import json
import time
import logging
from pathlib import Path

import pytest
from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.events.filters import EventAnyResourceFilter, EventFilter, EventRelatedFilter
from prefect.logging.handlers import APILogHandler
from prefect.settings import (
    PREFECT_LOCAL_STORAGE_PATH,
    PREFECT_RESULTS_PERSIST_BY_DEFAULT,
    temporary_settings,
)

import crucible_prefect as cp
from crucible_prefect import CrucibleCredentials
from crucible_prefect.testing import read_task_runs

pytestmark = pytest.mark.prefect


def _stored_bytes(path: Path) -> bytes:
    """A result file as Prefect wrote it, plus its value unpickled and re-pickled, so strings
    inside show as plain bytes whether the file is a JSON record or a base64 pickle."""
    from prefect._internal.result_records import ResultRecord

    raw = path.read_bytes()
    try:
        value = ResultRecord.deserialize(raw).result
    except ValueError:
        value = pickle.loads(base64.b64decode(raw))
    return raw + pickle.dumps(value) + repr(value).encode()


def _read_events(client, flow_run_id, wanted: set[str], timeout: float = 60.0) -> list:
    """Events about the flow run and its task runs, once the ``wanted`` kinds are stored (the
    server persists events in batches, a few seconds after they happen)."""
    resource = f"prefect.flow-run.{flow_run_id}"
    filters = (EventFilter(any_resource=EventAnyResourceFilter(id=[resource])),
               EventFilter(related=EventRelatedFilter(id=[resource])))
    deadline = time.monotonic() + timeout
    while True:
        events = []
        for event_filter in filters:
            page = client.read_events(filter=event_filter, limit=50)
            events.extend(page.events)
            while page.next_page:
                page = client.read_events_page(page.next_page)
                events.extend(page.events)
        if wanted <= {e.event for e in events} or time.monotonic() > deadline:
            return events
        time.sleep(0.5)


@pytest.fixture
def client_logs_to_prefect():
    """Ship the plain client's own DEBUG logs to the Prefect API too (the worst case)."""
    logger = logging.getLogger("crucible")
    handler = APILogHandler()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def test_api_key_never_reaches_the_prefect_api(crucible_credentials, crucible_user, tmp_path,
                                               client_logs_to_prefect):
    key = crucible_user.api_key
    data = tmp_path / "scan.csv"
    data.write_text("a,b\n1,2\n")

    @flow
    def secretive(credentials: CrucibleCredentials, block_name: str, path: str) -> dict:
        logger = get_run_logger()
        logger.info("using %r", credentials)
        credentials.logger.info("block as text: %s", credentials)
        ds = cp.create_dataset({"dataset_name": "secret-check",
                                "project_id": crucible_user.project_id},
                               keywords=["secrecy"], credentials=credentials)
        files = cp.upload_files(ds["unique_id"], [path], wait=True, credentials=block_name)
        missing = cp.get_dataset("0000000000000000000000000w", credentials=credentials,
                                 return_state=True)
        return {"dataset": cp.get_dataset(ds["unique_id"], credentials=block_name),
                "files": files, "missing_failed": missing.is_failed()}

    results_dir = tmp_path / "results"
    with temporary_settings({PREFECT_RESULTS_PERSIST_BY_DEFAULT: True,
                             PREFECT_LOCAL_STORAGE_PATH: results_dir}):
        state = secretive(crucible_credentials, "crucible-test", str(data), return_state=True)
        out = state.result()
        flow_run_id = state.state_details.flow_run_id
        task_runs = read_task_runs(flow_run_id, expected=4)
        with get_client(sync_client=True) as client:
            flow_run = client.read_flow_run(flow_run_id)
            logs = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
            events = _read_events(client, flow_run_id,
                                  {"prefect.task-run.Completed", "prefect.task-run.Failed"})
            # Task results are only metadata in the API (our tasks do not cache, so Prefect
            # writes no task result files); the flow's result is stored and read back here.
            results = [flow_run.state.result()]

    assert out["missing_failed"] is True
    api_text = json.dumps(
        {"flow_run": flow_run.model_dump(mode="json"),
         "task_runs": [tr.model_dump(mode="json") for tr in task_runs],
         "logs": [log.model_dump(mode="json") for log in logs],
         "events": [event.model_dump(mode="json") for event in events],
         "results": [repr(r) for r in results]},
        default=str)
    stored = b"".join(_stored_bytes(p) for p in results_dir.rglob("*") if p.is_file())

    # The read-back really holds what the run did (so the assertions below can fail) ...
    assert len(task_runs) == 4 and any(tr.state.is_failed() for tr in task_runs)
    assert out["dataset"]["unique_id"] in api_text
    assert out["dataset"]["unique_id"].encode() in stored
    assert results[0] == out
    assert "crucible-test" in api_text  # the block name parameter
    assert any("POST" in log.message or "GET" in log.message for log in logs)  # client DEBUG
    assert "404" in api_text  # the failed task's message
    assert {"prefect.task-run.Completed", "prefect.task-run.Failed"} <= {e.event for e in events}
    assert "**********" in json.dumps(flow_run.parameters)  # the block parameter, masked
    # ... and never the key.
    assert key not in api_text
    assert key.encode() not in stored
    assert key[-12:] not in api_text
