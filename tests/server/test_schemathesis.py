"""Property-based fuzzing of the whole API with schemathesis: no input may produce a server error.

Runs ``schemathesis run <base>/openapi.json`` (pinned in the ``test`` extra) against a server of
its own, once as a normal user and once as an admin, with a fixed seed and a time budget per
role. Run it longer with ``SCHEMATHESIS_SECONDS=600`` (and another ``SCHEMATHESIS_SEED``); see
docs/server.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("schemathesis")

SECONDS = int(os.environ.get("SCHEMATHESIS_SECONDS", "20"))
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20261202"))


@pytest.fixture(scope="module")
def fuzz_server():
    """A server of its own (fuzzing creates and deletes at random): (server, user key)."""
    from crucible.server.local import LocalCrucible

    with LocalCrucible() as srv:
        key = srv.add_user("0000-0008-0000-0001", first_name="Fuzz", last_name="User",
                           email="fuzz.user@example.org", projects=["FUZZPROJ"])
        yield srv, key


def _run(base: str, key: str, report_dir: Path) -> tuple[dict, str]:
    """One budgeted schemathesis run; (its JSON report, its console output)."""
    cmd = [sys.executable, "-m", "schemathesis.cli", "run", f"{base}/openapi.json", "--url", base,
           "-H", f"Authorization: Bearer {key}", "--checks", "not_a_server_error",
           "--max-time", str(SECONDS), "--seed", str(SEED), "--generation-database", "none",
           "--exclude-path-regex", "^/_admin", "--workers", "1", "--no-color",
           "--report", "json", "--report-dir", str(report_dir)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS * 4 + 120,
                         stdin=subprocess.DEVNULL)
    reports = sorted(report_dir.glob("*.json"))
    assert reports, f"schemathesis wrote no report:\n{out.stdout[-4000:]}\n{out.stderr[-2000:]}"
    return json.loads(reports[-1].read_text()), out.stdout


@pytest.mark.parametrize("role", ["user", "admin"])
def test_no_input_gives_a_server_error(fuzz_server, role, tmp_path):
    srv, user_key = fuzz_server
    key = user_key if role == "user" else srv.admin_key
    report, console = _run(srv.base_url, key, tmp_path)
    assert report["test_cases"]["generated"] > 100, console[-4000:]
    assert report["failures"] == [], console[-8000:]
    assert report["errors"] == [], console[-8000:]
    assert report["operations"]["tested"] == report["operations"]["selected"]
