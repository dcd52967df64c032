"""Done-when reliability: 30 % faults (incl. lost responses) change nothing about the outcome."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from crucible import CrucibleClient, Dataset, RetryPolicy
from crucible.mfid import new_mfid

# 0.3 ** 15: a call fails for good about once in 70 million.
STUBBORN = RetryPolicy(attempts=15, backoff=0.01, backoff_max=0.2, deadline=300)


@pytest.fixture
def stubborn(faulty_server, faulty_key):
    faulty_server.set_faults(0.0)
    with CrucibleClient(faulty_server.url, faulty_key, retry=STUBBORN, read_timeout=10,
                        chunk_size=256 * 1024) as c:
        yield c
    faulty_server.set_faults(0.0)


def test_100_creates_make_exactly_100_datasets(stubborn, faulty_server):
    session = new_mfid()
    faulty_server.set_faults(0.3, 101, slow_s=0.2)  # slow stays slow, the suite stays short
    ids = [stubborn.datasets.create(Dataset(dataset_name=f"r{i}", project_id="FLAKY",
                                            session_name=session))["dsid"] for i in range(100)]
    faulty_server.set_faults(0.0)
    made = stubborn.datasets.list(session_name=session, limit=None)
    assert len(made) == 100
    assert sorted(d["unique_id"] for d in made) == sorted(ids)
    assert sorted(d["dataset_name"] for d in made) == sorted(f"r{i}" for i in range(100))


def test_50_uploads_land_once_with_the_right_sha256(stubborn, faulty_server, tmp_path):
    dsid = stubborn.datasets.create(Dataset(dataset_name="uploads", project_id="FLAKY"))["dsid"]
    expected = {}
    paths = []
    for i in range(50):
        p = tmp_path / f"f{i:02d}.bin"
        data = os.urandom(256 * 1024 + 1000 * i)  # two chunks each
        p.write_bytes(data)
        expected[p.name] = hashlib.sha256(data).hexdigest()
        paths.append(p)
    faulty_server.set_faults(0.3, 202, slow_s=0.2)
    records = [stubborn.datasets.upload_file(dsid, p) for p in paths]
    faulty_server.set_faults(0.0)
    assert [r["sha256_hash"] for r in records] == [expected[p.name] for p in paths]
    files = stubborn.files.list(dataset_id=dsid)
    assert len(files) == 50
    assert sorted(f["sha256_hash"] for f in files) == sorted(expected.values())
    for r in records:
        stubborn.ingestions.wait(r["ingestion_request"]["id"], timeout=120)
    files = stubborn.files.list(dataset_id=dsid)
    assert {f["storage_path"].rsplit("/", 1)[1]: f["sha256_hash"] for f in files} == expected


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_default_policy_surfaces_no_error_at_30_percent_faults(faulty_server, faulty_key,
                                                                tmp_path, seed):
    """60 creates and 20 uploads with the default RetryPolicy (deadline-bounded): no call may
    give up, and nothing is duplicated. Four threads keep the back-off sleeps overlapping."""
    session = new_mfid()
    paths = []
    for i in range(20):
        p = tmp_path / f"u{i:02d}.bin"
        p.write_bytes(os.urandom(1000 + i))
        paths.append(p)
    faulty_server.set_faults(0.0)
    with CrucibleClient(faulty_server.url, faulty_key) as c:
        assert c.retry_policy == RetryPolicy()
        dsid = c.datasets.create(Dataset(dataset_name="up", project_id="FLAKY"))["dsid"]
        faulty_server.set_faults(0.3, seed, slow_s=0.3)
        try:
            with ThreadPoolExecutor(4) as pool:
                made = list(pool.map(
                    lambda i: c.datasets.create(Dataset(dataset_name=f"d{i}", project_id="FLAKY",
                                                        session_name=session))["dsid"],
                    range(60)))
                records = list(pool.map(lambda p: c.datasets.upload_file(dsid, p), paths))
            injected = sum(_injected(faulty_server).values())
        finally:
            faulty_server.set_faults(0.0)
        assert injected >= 30  # the faults really happened
        listed = c.datasets.list(session_name=session, limit=None)
        assert sorted(d["unique_id"] for d in listed) == sorted(made) and len(set(made)) == 60
        expected = sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in paths)
        assert sorted(r["sha256_hash"] for r in records) == expected
        assert sorted(f["sha256_hash"] for f in c.files.list(dataset_id=dsid)) == expected


def _injected(server) -> dict[str, int]:
    """How many faults of each kind the server has injected since faults were last set."""
    r = requests.get(f"{server.base_url}/_admin/faults", timeout=10,
                     headers={"Authorization": f"Bearer {server.admin_key}"})
    r.raise_for_status()
    return r.json()["injected"]
