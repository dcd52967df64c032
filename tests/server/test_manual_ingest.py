"""Manual ingest mode: requests stay ``requested`` until an admin PATCHes them."""

import requests

from crucible.mfid import new_mfid


def test_manual_mode_lets_tests_drive_the_status(private_server, upload):
    srv, user, admin, project = private_server
    srv.set_ingest_mode("manual")
    try:
        dsid = user.post("/datasets", json={"unique_id": new_mfid(), "project_id": project}).json()["unique_id"]
        f = upload(user, dsid, b"manual bytes")
        req = user.post(f"/files/{f['mfid']}/ingest").json()
        assert user.get(f"/ingestion_requests/{req['id']}").json()["status"] == "requested"
        assert user.patch(f"/ingestion_requests/{req['id']}", json={"status": "started"}).status_code == 403
        started = admin.patch(f"/ingestion_requests/{req['id']}",
                              json={"id": req["id"], "status": "started", "ingestion_githash": "abc"}).json()
        assert started["status"] == "started" and started["ingestion_githash"] == "abc"
        assert user.get(f"/files/{f['mfid']}/download_link").status_code == 404
        assert admin.patch(f"/ingestion_requests/{req['id']}", json={"status": "bogus"}).status_code == 422
        done = admin.patch(f"/ingestion_requests/{req['id']}", json={"status": "complete"}).json()
        assert done["status"] == "complete" and done["time_completed"]
        url = user.get(f"/files/{f['mfid']}/download_link").json()["url"]
        assert requests.get(url, timeout=10).content == b"manual bytes"
        g = upload(user, dsid, b"will fail")
        req2 = user.post(f"/datasets/{dsid}/files/{g['mfid']}/ingest").json()
        failed = admin.patch(f"/datasets/{dsid}/ingest/{req2['id']}",
                             json={"status": "failed", "error_message": "parser crashed"}).json()
        assert failed["status"] == "failed" and failed["error_message"] == "parser crashed"
        assert user.get(f"/datasets/{dsid}/ingest/{req2['id']}").json()["status"] == "failed"
    finally:
        srv.set_ingest_mode("auto")


def test_switching_back_to_auto_processes_waiting_requests(private_server, upload, wait_ingested):
    srv, user, admin, project = private_server
    srv.set_ingest_mode("manual")
    dsid = user.post("/datasets", json={"unique_id": new_mfid(), "project_id": project}).json()["unique_id"]
    f = upload(user, dsid, b"waiting")
    req = user.post(f"/files/{f['mfid']}/ingest").json()
    assert user.get(f"/ingestion_requests/{req['id']}").json()["status"] == "requested"
    srv.set_ingest_mode("auto")
    assert wait_ingested(user, req["id"])["status"] == "complete"
