"""A core-only install (no extras) runs the client, the engines and their commands without Prefect.

The virtual environment is built once under ``.cache/core-venv`` (rebuilt when pyproject.toml
changes) with ``pip install -e .`` and nothing else; the local server runs from this
environment, as another machine's Crucible would.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".cache" / "core-venv"

pytestmark = pytest.mark.slow


def _run(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def core_python() -> Path:
    stamp = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    python = VENV / "bin" / "python"
    marker = VENV / f".built-{stamp}"
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / ".core-venv.lock", "w") as lock:  # pytest-xdist: one builder
        fcntl.flock(lock, fcntl.LOCK_EX)
        _build_once(python, marker)
    return python


def _build_once(python: Path, marker: Path) -> None:
    if not marker.exists():
        shutil.rmtree(VENV, ignore_errors=True)
        made = _run(sys.executable, "-m", "venv", str(VENV))
        assert made.returncode == 0, made.stderr
        pip = _run(str(python), "-m", "pip", "install", "-q", "-e", str(ROOT))
        assert pip.returncode == 0, pip.stdout + pip.stderr
        marker.touch()


def test_core_install_has_no_prefect_but_the_engines(core_python):
    probe = _run(str(core_python), "-c", "import importlib.util as u; print(u.find_spec('prefect'))")
    assert probe.stdout.strip() == "None"
    engines = _run(str(core_python), "-c",
                   "import crucible.ingest, crucible.mirror, crucible.linking, crucible.jobs; "
                   "print('ok')")
    assert engines.stdout.strip() == "ok", engines.stderr


def test_core_install_runs_ingest_mirror_and_link(core_python, crucible_server, crucible_user,
                                                  tmp_path):
    from crucible import CrucibleClient

    instrument = f"core-{uuid.uuid4().hex[:6]}"
    with CrucibleClient(crucible_server.url, crucible_server.admin_key) as admin:
        admin.instruments.create({"instrument_name": instrument, "owner": "t", "location": "l"})
    with CrucibleClient(crucible_server.url, crucible_user.api_key) as client:
        sample = client.samples.create(sample_name=f"s-{instrument}",
                                       project_id=crucible_user.project_id)["unique_id"]
    run = tmp_path / f"run-{instrument}"
    (run / "raw").mkdir(parents=True)
    (run / "raw" / "scan.dat").write_bytes(b"x" * 1000)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PYTHONPATH"))}
    env.update(CRUCIBLE_API_URL=crucible_server.url, CRUCIBLE_API_KEY=crucible_user.api_key)
    crucible = str(core_python.parent / "crucible")

    ingest = _run(crucible, "ingest", str(run), "--instrument", instrument, "--project",
                  crucible_user.project_id, "--mode", "files", "--settle-seconds", "0",
                  "--json", env=env)
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    assert "prefect" not in ingest.stderr.lower()

    with CrucibleClient(crucible_server.url, crucible_user.api_key) as client:
        made = client.datasets.list(project_id=crucible_user.project_id,
                                    instrument_name=instrument, limit=None)
    assert len(made) == 1
    dsid = made[0]["unique_id"]

    out = tmp_path / "mirror"
    mirror = _run(crucible, "mirror", str(out), "--dataset", dsid, env=env)
    assert mirror.returncode == 0, mirror.stdout + mirror.stderr
    assert sorted(p.name for p in out.rglob("scan.dat")) == ["scan.dat"]

    rules = tmp_path / "rules.json"
    rules.write_text(f'[{{"kind": "sample_ids", "sample_ids": ["{sample}"]}}]')
    link = _run(crucible, "link", "--rules", str(rules), "--dataset", dsid, env=env)
    assert link.returncode == 0, link.stdout + link.stderr
    with CrucibleClient(crucible_server.url, crucible_user.api_key) as client:
        assert [s["unique_id"] for s in client.samples.list(dataset_id=dsid, limit=None)] == [sample]
