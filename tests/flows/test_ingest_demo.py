"""``crucible demo``: ingests the bundled example into a local server; a second run adds nothing."""

from __future__ import annotations

import io

import pytest

pytestmark = pytest.mark.prefect


def test_demo_ingests_the_example_then_creates_nothing(tmp_path, prefect_backend, monkeypatch):
    from crucible_prefect.demo import run_demo

    monkeypatch.setenv("CRUCIBLE_PREFECT_CACHE_DIR", str(tmp_path / "cache"))
    first, second = io.StringIO(), io.StringIO()
    assert run_demo(data_dir=tmp_path / "demo", out=first) == 0
    text = first.getvalue()
    assert "7 ingested; 5 dataset(s), 5 new" in text, text
    assert "grid_A1_001.ser" in text and "TitanX-demo session: titanx-session-2026-05-14" in text
    assert run_demo(data_dir=tmp_path / "demo", out=second) == 0
    text = second.getvalue()
    assert "7 exists; 5 dataset(s), 0 new" in text and "nothing new" in text, text
    assert (tmp_path / "demo" / "demo-state.json").stat().st_mode & 0o077 == 0  # keys: owner only


def test_demo_names_a_missing_example(tmp_path):
    from crucible_prefect.demo import run_demo

    with pytest.raises(FileNotFoundError, match="example run not found"):
        run_demo(data_dir=tmp_path, example=str(tmp_path / "nope"))
