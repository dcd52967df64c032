"""The frame itself: the console script and the Prefect backend fixture."""

import subprocess
import sys

import pytest


def test_console_script_lists_help():
    out = subprocess.run([sys.executable, "-m", "crucible.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "usage: crucible" in out.stdout


@pytest.mark.prefect
def test_prefect_backend_runs_a_flow(prefect_backend):
    from prefect import flow

    @flow
    def add(a: int, b: int) -> int:
        return a + b

    assert add(2, 3) == 5
    assert prefect_backend.startswith("http://")
