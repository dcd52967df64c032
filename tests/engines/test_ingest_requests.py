"""The ingest engine's Crucible traffic per small file, counted at the HTTP adapter."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest
from requests.adapters import HTTPAdapter

INSTRUMENT = "RequestCountScope"


@pytest.fixture()
def counted(monkeypatch):
    """Every request sent through ``requests`` (method, path tail), across threads."""
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()
    original = HTTPAdapter.send

    def send(adapter, request, *args, **kwargs):
        with lock:
            seen.append((request.method, request.path_url.split("?")[0]))
        return original(adapter, request, *args, **kwargs)

    monkeypatch.setattr(HTTPAdapter, "send", send)
    return seen


def test_small_files_cost_six_requests_each_and_a_rerun_one_listing(
        crucible_server, crucible_user, tmp_path, monkeypatch, counted):
    from crucible import CrucibleClient
    from crucible.ingest import IngestJob, IngestSettings
    from crucible.jobs import ThreadRunner, run_job

    monkeypatch.setenv("CRUCIBLE_PREFECT_CACHE_DIR", str(tmp_path / "digests"))
    admin = CrucibleClient(crucible_server.url, crucible_server.admin_key)
    if not admin.instruments.get(instrument_name=INSTRUMENT):
        admin.instruments.create({"instrument_name": INSTRUMENT, "owner": "t", "location": "l"})
    root = tmp_path / f"run-{uuid.uuid4().hex[:8]}"
    root.mkdir()
    n = 40
    for i in range(n):
        (root / f"f{i:03d}.dat").write_bytes(i.to_bytes(4, "big") * 100)
        os.utime(root / f"f{i:03d}.dat", (time.time() - 3600,) * 2)
    client = CrucibleClient(crucible_server.url, crucible_user.api_key)
    settings = IngestSettings(path=str(root), instrument_name=INSTRUMENT,
                              project_id=crucible_user.project_id, mode="files",
                              settle_seconds=0, max_concurrency=2)
    counted.clear()
    report = run_job(IngestJob(settings, client), ThreadRunner(client, 2))
    assert report.ok and report.counts.get("ingested") == n, report.summary()
    per_file = [p for p in counted if not p[1].endswith(("/account", "/instruments",
                                                          "/ingestion_requests"))]
    polls = [p for p in counted if p[0] == "GET" and "/ingestion_requests/" in p[1]]
    listings = [p for p in counted if p[1].endswith("/ingestion_requests")]
    # create, initiate, PUT, complete, ingest, completion mark; + the run's lookups
    assert len(per_file) <= 6 * n + 6, sorted(set(counted))
    assert len(listings) + len(polls) <= n // 2, (len(listings), len(polls))
    counted.clear()
    again = run_job(IngestJob(settings, client), ThreadRunner(client, 2))
    assert again.counts.get("exists") == n
    assert [p for p in counted if p[0] != "GET"] == []  # nothing made, uploaded or marked
    assert len(counted) <= 6  # preflight and one listing of the run
