"""Retries in practice: a 404 fails at once; a storm of server faults is ridden out with no
duplicate datasets, files, ingestion requests or links."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import requests
from prefect import flow

import crucible_prefect as cp
from crucible_prefect import CrucibleCredentials
from crucible_prefect.testing import read_task_runs

pytestmark = pytest.mark.prefect

#: Fast task retries for tests; production defaults wait 10 s and 20 s.
FAST = dict(retries=6, retry_delay_seconds=0.1, retry_jitter_factor=None)


def test_404_fails_fast_without_retries(crucible_credentials):
    @flow
    def lookup(credentials: CrucibleCredentials) -> str:
        state = cp.get_dataset("0000000000000000000000000w", credentials=credentials,
                               return_state=True)
        return type(state.result(raise_on_failure=False)).__name__

    flow_state = lookup(crucible_credentials, return_state=True)
    assert flow_state.result() == "NotFoundError"
    (run,) = read_task_runs(flow_state.state_details.flow_run_id, expected=1)
    assert run.run_count == 1 and run.state.is_failed()
    assert run.state.name == "Failed"  # not AwaitingRetry / Retrying


def test_transient_failure_is_retried_by_the_task(crucible_server, crucible_user, tmp_path):
    """With the transport's retries off, every fault reaches the task layer, which retries."""
    creds = CrucibleCredentials(api_url=crucible_server.url, api_key=crucible_user.api_key,
                                retry_attempts=1)
    tag = uuid.uuid4().hex[:8]
    get = cp.get_dataset.with_options(**FAST)

    @flow
    def reads(dsid: str) -> list[str]:
        return [get(dsid, credentials=creds)["unique_id"] for _ in range(12)]

    dsid = cp.create_dataset.fn({"dataset_name": f"r{tag}", "project_id": crucible_user.project_id},
                                credentials=creds)["unique_id"]
    crucible_server.set_faults(0.25, seed=3)
    try:
        state = reads(dsid, return_state=True)
    finally:
        injected = _injected(crucible_server)
        crucible_server.set_faults(0.0)
    assert state.result() == [dsid] * 12
    runs = read_task_runs(state.state_details.flow_run_id, expected=12)
    assert sum(injected.values()) > 0
    assert max(r.run_count for r in runs) > 1  # the task layer did retry


def test_fault_storm_is_ridden_out_without_duplicates(crucible_server, crucible_user, tmp_path):
    # Only two transport attempts per request, so faults also reach the task layer.
    creds = CrucibleCredentials(api_url=crucible_server.url, api_key=crucible_user.api_key,
                                retry_attempts=2, retry_deadline=10)
    tag = uuid.uuid4().hex[:8]
    n = 4
    paths = []
    for i in range(n):
        p = tmp_path / f"{tag}-{i}.dat"
        p.write_bytes(f"{tag}-{i}".encode() * 500)
        paths.append(str(p))
    create = cp.create_dataset.with_options(**FAST)
    sample = cp.create_sample.with_options(**FAST)
    upload = cp.upload_files.with_options(**FAST)
    link = cp.add_sample_to_dataset.with_options(**FAST)
    meta = cp.update_metadata.with_options(**FAST)

    @flow
    def storm() -> list[dict]:
        smp = sample({"sample_name": f"storm {tag}", "project_id": crucible_user.project_id},
                     credentials=creds)
        out = []
        for i, path in enumerate(paths):
            ds = create({"dataset_name": f"storm {tag} {i}", "measurement": f"storm-{tag}",
                         "project_id": crucible_user.project_id}, keywords=["storm"],
                        credentials=creds)
            files = upload(ds["unique_id"], [path], wait=True, credentials=creds)
            link(ds["unique_id"], smp["unique_id"], credentials=creds)
            meta(ds["unique_id"], {"run": i}, credentials=creds)
            out.append({"dsid": ds["unique_id"], "file": files[0]["mfid"]})
        return out

    crucible_server.set_faults(0.3, seed=11)
    try:
        state = storm(return_state=True)
    finally:
        injected = _injected(crucible_server)
        crucible_server.set_faults(0.0)
    result = state.result()
    runs = read_task_runs(state.state_details.flow_run_id, expected=1 + 4 * n)
    retried = [r.name for r in runs if r.run_count > 1]
    print(f"faults injected: {injected}; task runs retried by Prefect: {len(retried)}")
    assert sum(injected.values()) >= 10, injected  # it really was a storm
    assert retried  # and faults got past the transport to the task layer

    client = creds.get_client()
    datasets = client.datasets.list(measurement=f"storm-{tag}", limit=None)
    assert sorted(d["dataset_name"] for d in datasets) == sorted(
        f"storm {tag} {i}" for i in range(n))  # exactly one dataset per run
    assert {d["unique_id"] for d in datasets} == {r["dsid"] for r in result}
    samples = client.samples.list(sample_name=f"storm {tag}", limit=None)
    assert len(samples) == 1
    for i, r in enumerate(result):
        files = client.files.list(dataset_id=r["dsid"], limit=None)
        assert [f["mfid"] for f in files] == [r["file"]]
        assert files[0]["storage_path"]  # ingested
        assert len(client.ingestions.list(file_id=r["file"], limit=None)) == 1
        assert client.datasets.get_scientific_metadata(r["dsid"]) == {"run": i}
        assert [s["unique_id"] for s in client.samples.list(dataset_id=r["dsid"])] == [
            samples[0]["unique_id"]]
        assert Path(paths[i]).stat().st_size == files[0]["size"]


def _injected(server) -> dict:
    resp = requests.get(f"{server.base_url}/_admin/faults", timeout=10,
                        headers={"Authorization": f"Bearer {server.admin_key}"})
    resp.raise_for_status()
    return resp.json()["injected"]
