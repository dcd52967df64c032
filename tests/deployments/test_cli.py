"""`watch` / `emit-finished` commands: exit codes, messages, stable ids, delivery to a real API."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def cli(capsys):
    """Run the commands in-process (as `python -m crucible_prefect.watch` would)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from crucible_prefect.watch.__main__ import main

    def run(*args: str, api_url: str = "") -> SimpleNamespace:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            code = main(list(args))
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)

    return run


def test_crucible_console_script_has_the_commands():
    out = subprocess.run([sys.executable, "-m", "crucible.cli", "watch", "--config",
                          str(REPO / "deployments" / "instruments.yaml"), "--check"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "OK (2 instrument(s))" in out.stdout, out.stderr


def test_check_reports_named_problems(cli, tmp_path):
    bad = tmp_path / "inst.yaml"
    bad.write_text("instruments:\n  - name: tem-01\n    watch_folder: /x\n    project_id: P\n    mdoe: files\n")
    out = cli("watch", "--config", str(bad), "--check")
    assert out.returncode == 2
    assert "instruments[0] 'tem-01': mdoe: unknown field" in out.stderr
    good = cli("watch", "--config", str(REPO / "deployments" / "instruments.yaml"), "--check")
    assert good.returncode == 0 and "OK (2 instrument(s))" in good.stdout


def test_emit_finished_bad_input(cli, tmp_path):
    out = cli("emit-finished", str(tmp_path / "missing"), "--instrument", "x", "--project", "P")
    assert out.returncode == 2 and "does not exist" in out.stderr
    out = cli("emit-finished", str(tmp_path), "--instrument", "x")
    assert out.returncode == 2 and "give --config" in out.stderr
    out = cli("emit-finished", str(tmp_path), "--instrument", "nope", "--config",
              str(REPO / "deployments" / "instruments.yaml"))
    assert out.returncode == 2 and "unknown instrument 'nope'" in out.stderr


def test_emit_finished_api_down_exits_1(cli, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (tmp_path / "a.dat").write_bytes(b"1")
    out = cli("emit-finished", str(tmp_path), "--instrument", "x", "--project", "P",
              "--retry-for", "0", api_url=f"http://127.0.0.1:{port}/api")
    assert out.returncode == 1 and "not delivered" in out.stderr


@pytest.mark.prefect
def test_emit_finished_delivers_with_stable_id(cli, prefect_backend, tmp_path):
    run = tmp_path / "run 1"
    run.mkdir()
    (run / "a.dat").write_bytes(b"12345")
    args = ("emit-finished", str(run), "--instrument", "tem-01", "--project", "P1", "--run-id", "r-17")
    first = cli(*args, api_url=prefect_backend)
    second = cli(*args, api_url=prefect_backend)
    assert first.returncode == 0, first.stderr
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["event_id"] == b["event_id"]
    assert (a["file_count"], a["bytes"], a["path"]) == (1, 5, str(run))
    from crucible_prefect.testing import read_stored_events

    [stored] = read_stored_events(a["event_id"])  # two sends, one stored event
    assert stored.event == "crucible.instrument.run.finished"
    assert stored.resource.id == "crucible.instrument.tem-01"
    payload = stored.payload
    assert (payload["file_count"], payload["bytes"], payload["local_path"]) == (1, 5, str(run))
    assert payload["parameters"]["project_id"] == "P1"
    assert payload["parameters"]["instrument_name"] == "tem-01"
    assert payload["parameters"]["path"] == str(run)
