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


def test_the_distribution_installs_exactly_two_top_level_packages():
    """``crucible`` and ``crucible_prefect``; ``flows/`` is a folder of the repository, so a
    user's own ``flows`` package is never shadowed."""
    import importlib.metadata

    top = importlib.metadata.distribution("crucible-prefect").read_text("top_level.txt") or ""
    assert sorted(top.split()) == ["crucible", "crucible_prefect"]


def test_the_core_commands_and_the_prefect_layers_come_from_their_own_places():
    """The front door lists the core's commands itself and takes the Prefect layer's from the
    ``crucible.commands`` entry points (so the core never imports the layer above it)."""
    from crucible.cli import CORE_COMMANDS, available_commands

    commands = available_commands()
    assert {"ingest", "mirror", "link", "download", "server"} <= set(CORE_COMMANDS)
    assert not any(target.startswith("crucible_prefect") for target, _ in CORE_COMMANDS.values())
    for name in ("demo", "watch", "emit-finished"):
        assert commands[name] == ("crucible_prefect.cli:register", "prefect")
