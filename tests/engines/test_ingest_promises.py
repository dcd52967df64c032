"""Promises of docs/ingest.md shown with the plain engine (no Prefect) on the local server, the
client going through a real HTTP gateway that counts and spaces the requests."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from crucible import CrucibleClient
from crucible.ingest import IngestJob, IngestSettings
from crucible.jobs import ThreadRunner, run_job

INSTRUMENT = "PromiseScope"


@pytest.fixture(scope="module")
def instrument(crucible_server) -> str:
    with CrucibleClient(crucible_server.url, crucible_server.admin_key) as admin:
        if not admin.instruments.get(instrument_name=INSTRUMENT):
            admin.instruments.create({"instrument_name": INSTRUMENT, "owner": "Tests",
                                      "location": "Lab 0"})
    return INSTRUMENT


def write_run(tmp_path: Path, files: dict[str, bytes]) -> Path:
    root = tmp_path / f"run-{uuid.uuid4().hex[:8]}"
    old = time.time() - 3600
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (old, old))
    return root


def ingest(client, root: Path, instrument: str, project: str, **options):
    settings = IngestSettings(path=str(root), instrument_name=instrument, project_id=project,
                              settle_seconds=0, digest_cache=False, **options)
    return run_job(IngestJob(settings, client), ThreadRunner(client, max_workers=8))


def session_listings(gateway, run: str) -> int:
    return sum(1 for m, p, q in gateway.seen
               if m == "GET" and p.endswith("/datasets") and q.get("session_name") == run)


def test_one_listing_of_the_run_per_run(gateway, crucible_user, instrument, tmp_path):
    """The run's datasets are looked up with one listing (not a GET per group), first run and
    re-run alike."""
    root = write_run(tmp_path, {f"g{i:02d}.dat": os.urandom(100 + i) for i in range(12)})
    with CrucibleClient(gateway.api, crucible_user.api_key) as client:
        first = ingest(client, root, instrument, crucible_user.project_id, mode="files")
        assert first.ok and len(first.created) == 12, first.summary()
        assert session_listings(gateway, root.name) == 1
        again = ingest(client, root, instrument, crucible_user.project_id, mode="files")
    assert again.ok and again.created == [] and again.count("exists") == 12
    assert session_listings(gateway, root.name) == 2
    dataset_gets = [p for m, p, q in gateway.seen if m == "GET" and "/datasets/" in p
                    and p.rsplit("/", 1)[-1] in set(first.created)]
    assert dataset_gets == []  # no per-dataset lookups


def test_no_empty_session_parent_when_every_group_fails(crucible_server, crucible_user,
                                                        instrument, tmp_path):
    root = write_run(tmp_path, {"a.dat": b"a", "a.json": b"{broken", "b.dat": b"b",
                                "b.json": b"[1,"})
    with CrucibleClient(crucible_server.url, crucible_user.api_key) as client:
        report = ingest(client, root, instrument, crucible_user.project_id, mode="session")
        assert not report.ok and report.count("failed") == 4, report.summary()
        assert report.parent_dataset_id is None or report.parent_dataset_id not in report.created
        assert client.datasets.list(limit=None, session_name=root.name) == []


def test_at_most_four_big_uploads_at_once(gateway, crucible_user, instrument, tmp_path,
                                          monkeypatch):
    """With "big" lowered to 1 kB, ten such files on eight workers never have more than four
    uploads open at once (each upload initiation is held 0.3 s at the gateway, so without the
    bound eight would overlap)."""
    import crucible.ingest.worker as worker

    monkeypatch.setattr(worker, "BIG_FILE_BYTES", 1000)
    root = write_run(tmp_path, {f"big{i}.dat": os.urandom(5000 + i) for i in range(10)})
    def initiate(method: str, path: str) -> str | None:
        return "initiate" if method == "POST" and path.endswith("/initiate") else None

    gateway.label = initiate
    gateway.delay = lambda method, path: 0.3 if initiate(method, path) else 0.0
    with CrucibleClient(gateway.api, crucible_user.api_key) as client:
        report = ingest(client, root, instrument, crucible_user.project_id, mode="files",
                        max_concurrency=8)
    assert report.ok and report.count("ingested") == 10, report.summary()
    assert 2 <= gateway.max_in_flight["initiate"] <= 4


def test_a_post_processing_answer_that_is_not_complete_fails_the_run(gateway, crucible_user,
                                                                     instrument, tmp_path):
    """docs/ingest.md: each processing answer is awaited and one that is not ``complete`` fails
    the run; the dataset is not marked complete, so a re-run files the request again. (The local
    server answers ``complete`` at once; the gateway turns the first answer into ``failed``.)"""
    root = write_run(tmp_path, {"scan.dat": b"s" * 300})
    gateway.rewrite = lambda method, path, body: (
        body.replace(b'"complete"', b'"failed"') if path.endswith("/carrier_segmentation") else body)
    with CrucibleClient(gateway.api, crucible_user.api_key) as client:
        first = ingest(client, root, instrument, crucible_user.project_id, mode="files",
                       post_processing=["carrier_segmentation"])
        assert not first.ok, first.summary()
        [dsid] = first.datasets
        assert client.datasets.get_scientific_metadata(dsid)["ingest"]["complete"] is False
        gateway.rewrite = lambda method, path, body: body
        again = ingest(client, root, instrument, crucible_user.project_id, mode="files",
                       post_processing=["carrier_segmentation"])
        assert again.ok and again.created == [], again.summary()
        assert client.datasets.get_scientific_metadata(dsid)["ingest"]["complete"] is True
    filed = [p for m, p, q in gateway.seen if m == "POST" and p.endswith("/carrier_segmentation")]
    assert len(filed) == 2
