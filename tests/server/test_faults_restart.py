"""Fault injection (every kind, deterministic) and restart persistence, on private servers."""

import collections
import http.client
import os

import pytest
import requests

from crucible.mfid import new_mfid
from crucible.server.local import LocalCrucible


@pytest.fixture(scope="module")
def flaky(private_server):
    """A private server (faults are changed at runtime): (server, user key, project)."""
    srv, user, _, project = private_server
    return srv, user.headers["Authorization"][len("Bearer "):], project


def _raw_get(srv, path, key):
    """One request on a fresh connection; returns (status, headers) or the exception type."""
    host, port = srv.base_url[len("http://"):].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/api/v2" + path, headers={"Authorization": f"Bearer {key}"})
        resp = conn.getresponse()
        resp.read()
        return resp.status, dict(resp.getheaders())
    except (ConnectionError, http.client.RemoteDisconnected) as exc:
        return type(exc), {}
    finally:
        conn.close()


def test_every_fault_kind_appears_and_health_is_exempt(flaky):
    srv, key, _ = flaky
    srv.set_faults(0.5, seed=7, slow_s=0.1)
    try:
        outcomes = collections.Counter()
        for _ in range(60):
            status, headers = _raw_get(srv, "/account", key)
            if status == 429:
                assert headers.get("retry-after") == "1"
            outcomes[status if isinstance(status, int) else "dropped"] += 1
        assert outcomes[200] > 0 and outcomes[503] > 0 and outcomes[429] > 0
        assert outcomes["dropped"] > 0
        state = requests.get(srv.base_url + "/_admin/faults", timeout=10,
                             headers={"Authorization": f"Bearer {srv.admin_key}"}).json()
        assert all(state["injected"][k] > 0 for k in ("503", "429", "drop", "slow", "commit_drop"))
        for _ in range(20):
            assert requests.get(srv.url + "/health/live", timeout=10).status_code == 200
    finally:
        srv.set_faults(0.0)


def test_faults_are_deterministic(flaky):
    srv, key, _ = flaky
    runs = []
    for _ in range(2):
        srv.set_faults(0.4, seed=3, slow_s=0.1)
        runs.append([_raw_get(srv, "/account", key)[0] for _ in range(15)])
    srv.set_faults(0.0)
    assert runs[0] == runs[1]


def test_dropped_connection_raises_connection_error_in_requests(flaky):
    srv, key, _ = flaky
    seed = next(s for s in range(1000) if _first_kind(srv, s) == "drop")
    srv.set_faults(1.0, seed=seed)
    try:
        with pytest.raises(requests.ConnectionError):
            requests.get(srv.url + "/account", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    finally:
        srv.set_faults(0.0)


def test_commit_then_drop_commits(flaky):
    srv, key, project = flaky
    seed = next(s for s in range(1000) if _first_kind(srv, s) == "commit_drop")
    dsid = new_mfid()
    srv.set_faults(1.0, seed=seed)
    try:
        with pytest.raises(requests.ConnectionError):
            requests.post(srv.url + "/datasets", json={"unique_id": dsid, "project_id": project},
                          headers={"Authorization": f"Bearer {key}"}, timeout=10)
    finally:
        srv.set_faults(0.0)
    r = requests.get(f"{srv.url}/datasets/{dsid}", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert r.status_code == 200  # the create happened although the client saw no answer
    again = requests.post(srv.url + "/datasets", json={"unique_id": dsid, "project_id": project},
                          headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert again.status_code == 409  # so a retry can tell


def _first_kind(srv, seed):
    """The fault the server will inject first for ``seed`` at rate 1 (same formula, no HTTP)."""
    from crucible.server.faults import FaultInjector

    inj = FaultInjector(None, 1.0, seed)
    return inj.decide()


def test_admin_endpoints_need_admin(flaky):
    srv, key, _ = flaky
    r = requests.post(srv.base_url + "/_admin/faults", json={"rate": 0.5},
                      headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert r.status_code == 403
    r = requests.post(srv.base_url + "/_admin/faults", json={"rate": 2},
                      headers={"Authorization": f"Bearer {srv.admin_key}"}, timeout=10)
    assert r.status_code == 422
    r = requests.post(srv.base_url + "/_admin/raw_file_names/x", json={"filename": "../x"},
                      headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert r.status_code == 403  # names the API refuses are for an admin's test set-up only


def test_restart_keeps_everything(tmp_path):
    with LocalCrucible(tmp_path / "srv") as srv:
        key = srv.add_user("0000-0004-0000-0002", projects=["KEEP"])
        h = {"Authorization": f"Bearer {key}"}
        dsid = new_mfid()
        assert requests.post(srv.url + "/datasets", json={"unique_id": dsid, "project_id": "KEEP"},
                             headers=h, timeout=10).status_code == 200
        requests.patch(f"{srv.url}/resources/{dsid}/metadata", json={"k": 1}, headers=h, timeout=10)
        data = os.urandom(300_000)
        import hashlib

        init = requests.post(f"{srv.url}/datasets/{dsid}/upload/initiate", headers=h, timeout=10,
                             json={"filename": "x.bin", "size": len(data),
                                   "sha256_hash": hashlib.sha256(data).hexdigest()}).json()
        q = 256 * 1024
        r = requests.put(init["resumable_uri"], data=data[:q], timeout=10,
                         headers={"Content-Range": f"bytes 0-{q - 1}/{len(data)}"})
        assert r.status_code == 308
        url_before, admin_key = srv.url, srv.admin_key
        srv.restart()
        assert srv.url == url_before
        assert requests.get(f"{srv.url}/datasets/{dsid}", headers=h, timeout=10).status_code == 200
        meta = requests.get(f"{srv.url}/resources/{dsid}/metadata", headers=h, timeout=10).json()
        assert meta["scientific_metadata"] == {"k": 1}
        # the half-done upload resumes after the restart (hash state rebuilt from disk)
        probe = requests.put(init["resumable_uri"], headers={"Content-Range": f"bytes */{len(data)}"},
                             timeout=10)
        assert probe.status_code == 308 and probe.headers["Range"] == f"bytes=0-{q - 1}"
        r = requests.put(init["resumable_uri"], data=data[q:], timeout=10,
                         headers={"Content-Range": f"bytes {q}-{len(data) - 1}/{len(data)}"})
        assert r.status_code == 200
        f = requests.post(f"{srv.url}/datasets/{dsid}/upload/complete", headers=h, timeout=10,
                          json={"upload_id": init["upload_id"]}).json()
        assert f["sha256_hash"] == hashlib.sha256(data).hexdigest()
        assert requests.get(f"{srv.url}/account", timeout=10,
                            headers={"Authorization": f"Bearer {admin_key}"}).status_code == 200
        # an ingestion the worker had claimed when the server died is picked up again
        srv.stop()
        from crucible.server.db import IngestionRequest, open_database
        from crucible.server.ingestor import GITHASH

        with open_database(srv.data_dir / "crucible.db")() as db:
            db.add(IngestionRequest(status="started", ingestion_class="ApiUploadIngestor",
                                    dataset_mfid=dsid, file_mfid=f["mfid"], ingestion_githash=GITHASH))
            db.commit()
        srv.start()
        reqs = requests.get(f"{srv.url}/ingestion_requests", params={"file_id": f["mfid"]},
                            headers=h, timeout=10).json()["items"]
        import time

        deadline = time.monotonic() + 20
        while reqs[0]["status"] != "complete" and time.monotonic() < deadline:
            time.sleep(0.1)
            reqs = requests.get(f"{srv.url}/ingestion_requests", params={"file_id": f["mfid"]},
                                headers=h, timeout=10).json()["items"]
        assert reqs[0]["status"] == "complete"


def test_create_app_reaches_the_fastapi_app_inside(tmp_path):
    """``create_app`` documents ``.fastapi``: the inner app, whose state knows the injector."""
    from crucible.server.app import create_app
    from crucible.server.faults import FaultInjector
    from crucible.server.settings import Settings

    app = create_app(Settings(data_dir=tmp_path, fail_rate=0.25, fail_seed=3))
    try:
        assert isinstance(app, FaultInjector) and app.config.rate == 0.25
        assert app.fastapi.state.faults is app and app.app.app is app.fastapi
    finally:
        app.fastapi.state.sessions.kw["bind"].dispose()
