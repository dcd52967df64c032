"""The failure-notification automation example, loaded with `prefect automation create`, fires."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[2] / "deployments" / "automations" / "notify-on-failure.yaml"
PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


@pytest.fixture()
def webhook():
    """A loopback HTTP endpoint collecting the JSON bodies posted to it."""
    received: queue.Queue = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.put(json.loads(body or b"{}"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


def test_failed_crucible_run_notifies(prefect_backend, webhook, tmp_path):
    from prefect import flow, tags
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    url, received = webhook
    block = CustomWebhookNotificationBlock(
        name="crucible-alerts", url=url, json_data={"subject": "{{subject}}", "body": "{{body}}"})
    block_id = block.save(f"crucible-alerts-{uuid.uuid4().hex[:6]}", overwrite=True)
    automation = tmp_path / "automation.yaml"
    automation.write_text(EXAMPLE.read_text().replace(PLACEHOLDER, str(block_id)))
    out = subprocess.run([sys.executable, "-m", "prefect", "automation", "create", "--from-file",
                          str(automation)], env=dict(os.environ, PREFECT_API_URL=prefect_backend),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "Failed" not in out.stdout, out.stdout + out.stderr

    @flow(name="crucible-notify-probe")
    def probe(why: str) -> int:
        if why:
            raise RuntimeError(why)
        return 1

    with tags("other"):
        assert probe("") == 1
        probe("not a crucible run", return_state=True)  # failed, untagged: no notification
    with tags("crucible"):
        assert probe("", return_state=True).is_completed()  # completed: no notification
        state = probe("instrument share unreachable", return_state=True)
    assert state.is_failed()

    messages = [_next_message(received)]
    body = messages[0]["body"]
    assert "crucible-notify-probe" in body and "Failed" in messages[0]["subject"]
    assert "instrument share unreachable" in body

    # a crash (the worker's process died): the run's state is set to CRASHED through the API,
    # as a worker or the server does for a run whose process is gone
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed, Running

    with get_client(sync_client=True) as client:
        run = client.create_flow_run(probe, parameters={"why": "crash"}, tags=["crucible"])
        client.set_flow_run_state(run.id, Running())
        client.set_flow_run_state(run.id, Crashed(message="worker process killed"), force=True)
    messages.append(_next_message(received))
    assert "Crashed" in messages[1]["subject"], messages[1]
    assert "worker process killed" in messages[1]["body"]

    time.sleep(2)  # collect anything else that fired: only the crucible failure and crash notify
    while not received.empty():
        messages.append(received.get())
    assert all("not a crucible run" not in m["body"] for m in messages)
    assert len(messages) == 2


def _next_message(received: queue.Queue) -> dict:
    try:
        return received.get(timeout=60)
    except queue.Empty:
        raise AssertionError("no notification within 60 s") from None
