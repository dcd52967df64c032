"""The ingest and mirror flows on a Dask task runner (prefect-dask): same outcome as the thread pool.

Dask pickles every task argument and result even for an in-process cluster, so these runs prove
that nothing live (clients, locks, SQLite connections, thread pools) crosses a task boundary.
One small cluster per flow run (1 worker, 2 threads, in-process) keeps them cheap.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
import uuid
from pathlib import Path

import pytest

import prefect_dask  # noqa: E402,F401  (the test extra installs it; a missing one must fail, not skip)
pytestmark = pytest.mark.prefect

INSTRUMENT = "DaskScope"
SMALL_CLUSTER = {"n_workers": 1, "threads_per_worker": 2, "processes": False,
                 "dashboard_address": None}


def on_dask(flow, processes: bool = False):
    """``flow`` on a small Dask cluster (in this process, or one worker process)."""
    from prefect_dask import DaskTaskRunner

    return flow.with_options(task_runner=DaskTaskRunner(
        cluster_kwargs={**SMALL_CLUSTER, "processes": processes}))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def instrument(crucible_server):
    from crucible import CrucibleClient

    with CrucibleClient(api_url=crucible_server.url, api_key=crucible_server.admin_key) as admin:
        if not admin.instruments.get(instrument_name=INSTRUMENT):
            admin.instruments.create({"instrument_name": INSTRUMENT, "owner": "Test facility",
                                      "location": "Lab 2"})
    return INSTRUMENT


def test_dask_variants_are_the_same_flows_on_another_runner(monkeypatch):
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    import crucible_prefect.flows.ingest as ingest
    import crucible_prefect.flows.mirror as mirror
    from crucible_prefect.runners import DaskOnDemand

    for module, base, variant in ((ingest, "ingest_instrument_output", "ingest_instrument_output_dask"),
                                  (mirror, "mirror_downloads", "mirror_downloads_dask")):
        flow, dask_flow = getattr(module, base), getattr(module, variant)
        assert isinstance(flow.task_runner, ThreadPoolTaskRunner)
        assert isinstance(dask_flow.task_runner, DaskOnDemand)  # Dask is configured on start
        assert dask_flow.fn is flow.fn and dask_flow.name == flow.name + "-dask"
    import json

    monkeypatch.setenv("CRUCIBLE_DASK_CLUSTER_KWARGS", json.dumps(SMALL_CLUSTER))
    runner = mirror.mirror_downloads_dask.task_runner.duplicate()
    with runner:  # made from the environment when a run starts: a real DaskTaskRunner inside
        assert isinstance(runner._inner, DaskTaskRunner)


def test_runner_configuration_and_a_missing_extra(monkeypatch):
    from crucible_prefect.runners import DaskUnavailable, dask_task_runner

    monkeypatch.setenv("CRUCIBLE_DASK_CLUSTER_KWARGS", '{"n_workers": 3}')
    assert dask_task_runner().cluster_kwargs == {"n_workers": 3}
    monkeypatch.setenv("CRUCIBLE_DASK_ADDRESS", "tcp://127.0.0.1:8786")
    assert dask_task_runner().address == "tcp://127.0.0.1:8786"
    monkeypatch.delenv("CRUCIBLE_DASK_ADDRESS")
    monkeypatch.setenv("CRUCIBLE_DASK_CLUSTER_KWARGS", "[1]")
    with pytest.raises(ValueError, match="must be a JSON object"):
        dask_task_runner()
    monkeypatch.setitem(sys.modules, "prefect_dask", None)  # as if the extra were not installed
    with pytest.raises(DaskUnavailable, match=r"crucible-prefect\[dask\]"):
        dask_task_runner()


@pytest.mark.parametrize("processes", [False, True], ids=["in-process", "worker-process"])
def test_ingest_on_dask(crucible_credentials, crucible_user, instrument, tmp_path, monkeypatch,
                        processes):
    from crucible_prefect.flows.ingest import ingest_instrument_output, report_from_state

    monkeypatch.setenv("CRUCIBLE_PREFECT_CACHE_DIR", str(tmp_path / "digest-cache"))
    files = {f"scan_{i:02d}.ser": os.urandom(3000 + i) for i in range(5)}
    files.update({"scan_00.emi": b"E" * 700, "scan_00.json": b'{"beam": {"kv": 300}}',
                  "big/stack.tif": os.urandom(9 * 2**20)})  # above the big-upload bound
    root = tmp_path / f"run-{uuid.uuid4().hex[:8]}"
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (time.time() - 3600,) * 2)
    params = dict(path=str(root), instrument_name=instrument, project_id=crucible_user.project_id,
                  settle_seconds=0, max_concurrency=2, keywords=["dask"],
                  credentials=crucible_credentials)
    flow = on_dask(ingest_instrument_output, processes)

    state = flow(**params, return_state=True)
    report = report_from_state(state)
    assert state.is_completed(), report.summary()
    assert report.count("ingested") == len(files)
    assert len(report.datasets) == 1 + 6 and set(report.created) == set(report.datasets)
    client = crucible_credentials.get_client()
    children = client.datasets.list_children(report.parent_dataset_id, limit=None)
    assert {d["unique_id"] for d in children} == set(report.datasets[1:])
    stored = {f["sha256_hash"]: f for d in report.datasets[1:]
              for f in client.files.list(dataset_id=d, limit=None)}
    assert set(stored) == {sha(b) for b in files.values()}
    assert all(f["storage_path"] for f in stored.values())
    scan0 = next(d for d in children if d["dataset_name"] == "scan_00.ser")
    meta = client.datasets.get(scan0["unique_id"], include_metadata=True)["scientific_metadata"]
    assert meta["beam"] == {"kv": 300} and meta["ingest"]["complete"] is True

    # the digest ledger written by the tasks (its path crossed the wire, not a connection)
    again = report_from_state(flow(**params, return_state=True))
    assert again.ok and again.count("exists") == len(files) and again.created == []
    assert set(again.datasets) == set(report.datasets)
    # and without the ledger every group is read again, found complete, nothing made
    third = report_from_state(flow(**params, digest_cache=False, return_state=True))
    assert third.ok and third.count("exists") == len(files) and third.created == []
    assert len(client.datasets.list(limit=None, session_name=root.name)) == 7


def make_dataset(client, tmp_path: Path, project: str, files: dict[str, bytes]) -> str:
    from crucible.mfid import new_mfid

    dsid = new_mfid()
    client.datasets.create({"unique_id": dsid, "dataset_name": f"dask {dsid}", "project_id": project})
    for rel, body in files.items():
        local = tmp_path / dsid / rel
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(body)
        client.datasets.upload_file(dsid, local, relative_path=rel, wait=True, timeout=60)
    return dsid


@pytest.mark.parametrize("processes", [False, True], ids=["in-process", "worker-process"])
def test_mirror_on_dask(crucible_credentials, crucible_user, tmp_path, processes):
    """In-process, tasks share the flow's mirror; in a worker process each task opens its own
    and journals into the run's manifest, which the flow folds in."""
    from crucible.mirror.destination import open_destination
    from crucible.mirror.manifest import Manifest
    from crucible_prefect.flows.mirror import mirror_downloads

    client = crucible_credentials.get_client()
    data = [{"a.bin": os.urandom(70_000), "sub/b.bin": os.urandom(1000)},
            {"c.bin": os.urandom(5000)}]
    ids = [make_dataset(client, tmp_path, crucible_user.project_id, files) for files in data]
    url = f"file://{tmp_path}/mirror"
    flow = on_dask(mirror_downloads, processes)

    state = flow(url, ids, credentials=crucible_credentials, return_state=True)
    assert state.is_completed(), state.message
    summary = state.result().summary()
    assert summary["counts"] == {"copied": 5} and not summary["failed"]  # 3 files + 2 records
    assert summary["bytes_copied"] > 76_000 and summary["listing_calls"] >= 3
    for dsid, files in zip(ids, data):
        base = tmp_path / "mirror" / crucible_user.project_id / dsid
        for rel, body in files.items():
            assert hashlib.sha256((base / rel).read_bytes()).digest() == hashlib.sha256(body).digest()
    manifest = Manifest(open_destination(url)).load()
    manifest._stop.set()
    assert len(manifest.entries) == 5 and manifest.generation == 1
    assert not list((tmp_path / "mirror" / ".crucible-mirror" / "journal").glob("*.json"))

    again = flow(url, ids, credentials=crucible_credentials).summary()
    assert again["counts"] == {"skipped": 5} and again["bytes_copied"] == 0
