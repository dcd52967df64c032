"""With nano-crucible installed beside us, ``import crucible`` and the command say so, once."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest


@pytest.fixture
def fake_nano(tmp_path):
    """A site folder in which the nano-crucible distribution looks installed (metadata only)."""
    info = tmp_path / "nano_crucible-3.3.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nano-crucible\nVersion: 3.3.0\n")
    return tmp_path


def test_warns_once_with_the_fix(fake_nano, monkeypatch):
    from crucible import coexistence

    monkeypatch.syspath_prepend(str(fake_nano))
    monkeypatch.setattr(coexistence, "_warned", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        coexistence.warn_if_nano_crucible()
        coexistence.warn_if_nano_crucible()
    assert len(caught) == 1 and issubclass(caught[0].category, coexistence.CoexistenceWarning)
    assert "nano-crucible 3.3.0" in str(caught[0].message)
    assert "pip uninstall -y nano-crucible" in str(caught[0].message)


def test_silent_without_nano_crucible(monkeypatch):
    from crucible import coexistence

    monkeypatch.setattr(coexistence, "_warned", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        coexistence.warn_if_nano_crucible()
    assert caught == []


def test_the_command_warns_on_stderr(fake_nano):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake_nano), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", "from crucible.cli import main; main(['--help'])"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert "nano-crucible 3.3.0 is installed" in done.stderr
    assert done.stderr.count("nano-crucible 3.3.0 is installed") == 1
