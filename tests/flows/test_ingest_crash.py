"""kill -9 in the middle of an ingest run, then run again: the same datasets, finished, once.

The run happens in a subprocess. A metadata extractor (given by import path, as users give
theirs) blocks on one group after its dataset was created and before any file was uploaded,
while the other worker is busy with other groups; the test kills the process with SIGKILL at
that point, which is the worst moment for an "empty orphan dataset".
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

pytestmark = pytest.mark.prefect

INSTRUMENT = "IngestScope"

EXTRACTOR = """
import os, pathlib, time

def block(group, fs):
    if group.key == "m-block":
        pathlib.Path(os.environ["INGEST_MARKER"]).write_text("dataset made, nothing uploaded")
        time.sleep(300)
    return {}
"""

DRIVER = """
import sys
from flows.ingest_instrument_output import ingest_instrument_output

ingest_instrument_output(path=sys.argv[1], instrument_name=sys.argv[2], project_id=sys.argv[3],
                         mode="session", settle_seconds=0, max_concurrency=2,
                         extractors=["json_sidecar", "blocking_extractor:block"])
"""


@pytest.fixture(scope="module")
def instrument(crucible_server):
    from crucible import CrucibleClient

    admin = CrucibleClient(api_url=crucible_server.url, api_key=crucible_server.admin_key)
    if not admin.instruments.get(instrument_name=INSTRUMENT):
        admin.instruments.create({"instrument_name": INSTRUMENT, "owner": "Test facility",
                                  "location": "Lab 1"})
    admin.close()
    return INSTRUMENT


def test_sigkill_mid_run_then_rerun_finishes_without_duplicates_or_orphans(
        tmp_path, crucible_server, crucible_user, crucible_credentials, prefect_backend, instrument):
    from flows.ingest_instrument_output import ingest_instrument_output, report_from_state

    run = tmp_path / f"crash-{uuid.uuid4().hex[:8]}"
    run.mkdir()
    files = {f"a{i:02d}.dat": os.urandom(150_000 + i) for i in range(10)}
    files.update({"m-block.dat": os.urandom(1000), "m-block.emi": b"companion",
                  "z01.dat": os.urandom(4000)})
    old = time.time() - 3600
    for name, data in files.items():
        (run / name).write_bytes(data)
        os.utime(run / name, (old, old))
    (tmp_path / "blocking_extractor.py").write_text(textwrap.dedent(EXTRACTOR))
    marker = tmp_path / "marker"
    cache = tmp_path / "cache"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
               PREFECT_API_URL=prefect_backend, CRUCIBLE_API_URL=crucible_server.url,
               CRUCIBLE_API_KEY=crucible_user.api_key, INGEST_MARKER=str(marker),
               CRUCIBLE_PREFECT_CACHE_DIR=str(cache))
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(run), instrument,
                             crucible_user.project_id], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the driver never reached the blocking group"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()

    client = crucible_credentials.get_client()
    made = client.datasets.list(limit=None, session_name=run.name)
    blocked = [d for d in made if d["dataset_name"] == "m-block.dat"]
    assert blocked and client.files.list(dataset_id=blocked[0]["unique_id"], limit=None) == [], \
        "the kill should leave the blocked group's dataset created but still empty"

    state = ingest_instrument_output(path=str(run), instrument_name=instrument,
                                     project_id=crucible_user.project_id, mode="session",
                                     settle_seconds=0, credentials=crucible_credentials,
                                     return_state=True)
    report = report_from_state(state)
    assert state.is_completed(), report.summary()

    datasets = client.datasets.list(limit=None, session_name=run.name)
    ids = [d["unique_id"] for d in datasets]
    assert len(ids) == len(set(ids)) == 13  # parent + 12 groups, nothing twice
    parent = report.parent_dataset_id
    children = {d["unique_id"] for d in client.datasets.list_children(parent, limit=None)}
    assert children == set(ids) - {parent}
    expected = {hashlib.sha256(d).hexdigest() for d in files.values()}
    seen = []
    for dsid in children:
        stored = client.files.list(dataset_id=dsid, limit=None)
        assert stored, f"dataset {dsid} is an empty orphan"
        assert all(f["storage_path"] for f in stored)
        seen += [f["sha256_hash"] for f in stored]
    assert sorted(seen) == sorted(expected)  # every file exactly once
    assert {d["unique_id"] for d in made} <= set(ids)  # the killed run's datasets were finished
