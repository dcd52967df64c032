"""``crucible watch`` as a process: ``--status`` prints the ledger, SIGTERM stops it cleanly and
pending events stay in the ledger (docs/deployments.md, "Running the watcher as a service")."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _dead_api() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/api"


def _watch(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "crucible_prefect.watch", "watch", "--config", str(config), *args]


def _status(config: Path, env: dict) -> list[dict]:
    out = subprocess.run(_watch(config, "--status"), env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def _ledger_rows(path: Path) -> list[dict]:
    from crucible_prefect.watch.ledger import Ledger

    if not path.exists():
        return []
    with Ledger(str(path)) as ledger:
        return list(ledger.rows())


def test_status_and_sigterm(tmp_path):
    folder = tmp_path / "runs"
    (folder / "run1").mkdir(parents=True)
    (folder / "run1" / "a.dat").write_bytes(b"12345")
    (folder / "run1" / ".done").write_bytes(b"")
    config = tmp_path / "instruments.yaml"
    config.write_text(yaml.safe_dump({
        "poll_seconds": 0.2, "ledger": str(tmp_path / "ledger.sqlite"),
        "instruments": [{"name": "tem-01", "watch_folder": str(folder), "project_id": "P1",
                         "backfill": True, "finished": {"sentinel": ".done"}}]}))
    env = dict(os.environ, PREFECT_API_URL=_dead_api())  # delivery fails: the event stays pending
    proc = subprocess.Popen(_watch(config), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        rows: list[dict] = []
        while time.monotonic() < deadline and not any(r["last_error"] for r in rows):
            time.sleep(0.3)
            rows = _ledger_rows(tmp_path / "ledger.sqlite")
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    [row] = _status(config, env)
    assert (row["instrument"], row["path"], row["status"]) == ("tem-01", str(folder / "run1"), "pending")
    assert row["file_count"] == 1 and row["bytes"] == 5 and row["attempts"] >= 1
    assert row["last_error"] and row["event_id"]
