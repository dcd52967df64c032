"""kill -9 in the middle of an ingest run, then run again: the same datasets, finished, once.

The run happens in a subprocess that stalls on one group at a chosen point — right after that
group's dataset was created (before any upload), after the first chunk of its upload, or with
every file ingested but before the completion mark — while the other worker is busy with other
groups; the test kills the process with SIGKILL there and runs the flow again. The local server
and the Prefect API are real.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

pytestmark = pytest.mark.prefect

INSTRUMENT = "IngestScope"

DRIVER = """
import os, pathlib, sys, time

from crucible.ingest.ops import CrucibleOps
from crucible_prefect.flows.ingest import ingest_instrument_output

upload, merge_metadata = CrucibleOps.upload, CrucibleOps.merge_metadata
STALL = os.environ["INGEST_STALL"]


def stall(dsid):
    pathlib.Path(os.environ["INGEST_MARKER"]).write_text(dsid)
    time.sleep(300)


def stalling_upload(self, dsid, local_path, *, relative_path, **kwargs):
    # Killed here: the group's dataset exists, none of its files is uploaded.
    if STALL == "before-upload" and relative_path == "m-block.dat":
        stall(dsid)
    return upload(self, dsid, local_path, relative_path=relative_path, **kwargs)


def stalling_merge(self, dsid, metadata):
    # Killed here: every file is uploaded and ingested, the completion mark is not written.
    if STALL == "before-mark" and (metadata.get("ingest") or {}).get("group") == "m-block":
        stall(dsid)
    return merge_metadata(self, dsid, metadata)


import crucible.resources.files as files_module

put_chunks = files_module.upload_resumable


def stalling_put_chunks(transport, uri, path, **kwargs):
    # Killed here: the first chunk of m-block.dat is on the server, the rest is not.
    if STALL == "mid-upload" and str(path).endswith("m-block.dat"):
        def after_first_chunk(_n):
            stall(uri.rsplit("/", 1)[-1])
        kwargs["progress"] = after_first_chunk
    return put_chunks(transport, uri, path, **kwargs)


CrucibleOps.upload, CrucibleOps.merge_metadata = stalling_upload, stalling_merge
files_module.upload_resumable = stalling_put_chunks
ingest_instrument_output(path=sys.argv[1], instrument_name=sys.argv[2], project_id=sys.argv[3],
                         mode="session", settle_seconds=0, max_concurrency=2)
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


@pytest.mark.parametrize("stall_at", ["before-upload", "mid-upload", "before-mark"])
def test_sigkill_mid_run_then_rerun_finishes_without_duplicates_or_orphans(
        stall_at, tmp_path, crucible_server, crucible_user, crucible_credentials, prefect_backend,
        instrument):
    from crucible_prefect.flows.ingest import ingest_instrument_output, report_from_state

    run = tmp_path / f"crash-{uuid.uuid4().hex[:8]}"
    run.mkdir()
    files = {f"a{i:02d}.dat": os.urandom(150_000 + i) for i in range(10)}
    files.update({"m-block.dat": os.urandom(10 * 1024 * 1024), "m-block.emi": b"companion",
                  "z01.dat": os.urandom(4000)})
    old = time.time() - 3600
    for name, data in files.items():
        (run / name).write_bytes(data)
        os.utime(run / name, (old, old))
    marker = tmp_path / "marker"
    cache = tmp_path / "cache"
    env = dict(os.environ, PREFECT_API_URL=prefect_backend, CRUCIBLE_API_URL=crucible_server.url,
               CRUCIBLE_API_KEY=crucible_user.api_key, INGEST_MARKER=str(marker), INGEST_STALL=stall_at,
               CRUCIBLE_UPLOAD_CHUNK_SIZE_MB="1",  # chunks: max(this, server hint 8 MiB)
               CRUCIBLE_PREFECT_CACHE_DIR=str(cache))
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(run), instrument,
                             crucible_user.project_id], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the driver never reached the stalling group"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()

    client = crucible_credentials.get_client()
    made = client.datasets.list(limit=None, session_name=run.name)
    blocked = [d for d in made if d["dataset_name"] == "m-block.dat"]
    assert blocked, "the stalled group's dataset should exist when the run is killed"
    stored = client.files.list(dataset_id=blocked[0]["unique_id"], limit=None)
    if stall_at in ("before-upload", "mid-upload"):
        assert stored == [], "killed before its upload finished: no file registered yet"
    else:
        assert len(stored) == 2 and not (client.datasets.get_scientific_metadata(
            blocked[0]["unique_id"]).get("ingest") or {}).get("complete")

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
