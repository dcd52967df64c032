"""docs/tasks.md's "compose tasks in your own flow" example runs as written (twice)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from crucible_prefect import CrucibleCredentials

pytestmark = pytest.mark.prefect
DOC = Path(__file__).resolve().parents[2] / "docs" / "tasks.md"


def _example() -> str:
    section = DOC.read_text().split("## Compose tasks in your own flow", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_compose_example_runs_as_written_and_reruns_create_nothing(
        prefect_backend, crucible_server, crucible_user, tmp_path):
    CrucibleCredentials(api_url=crucible_server.url, api_key=crucible_user.api_key).save(
        "crucible", overwrite=True)
    script = tmp_path / "upload_run.py"
    script.write_text(_example())
    run = tmp_path / "run-0042"
    (run / "raw").mkdir(parents=True)
    (run / "raw" / "frame-1.tif").write_bytes(b"\x00" * 4096)
    (run / "notes.txt").write_text("beam 10 keV\n")
    env = dict(os.environ, PREFECT_API_URL=prefect_backend)
    args = [sys.executable, str(script), crucible_user.project_id, str(run), "wafer-7"]

    outs = []
    for _ in range(2):
        proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300,
                              cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        outs.append(proc.stdout.strip().splitlines()[-1])
        assert crucible_user.api_key not in proc.stdout + proc.stderr
    assert outs[0] == outs[1]  # the re-run found the same dataset

    client = CrucibleCredentials.load("crucible").get_client()
    dsid = outs[0]
    assert client.datasets.list(dataset_name="run-0042", limit=None)[0]["unique_id"] == dsid
    assert len(client.datasets.list(dataset_name="run-0042", limit=None)) == 1
    files = client.files.list(dataset_id=dsid, limit=None)
    assert sorted(Path(f["filename"]).name for f in files) == ["frame-1.tif", "notes.txt"]
    assert all(f["storage_path"] for f in files)
    assert len(client.samples.list(sample_name="wafer-7", limit=None)) == 1
    assert client.datasets.get_scientific_metadata(dsid) == {"n_files": 2,
                                                           "bytes": 4096 + len("beam 10 keV\n")}
    assert [s["sample_name"] for s in client.samples.list(dataset_id=dsid)] == ["wafer-7"]
