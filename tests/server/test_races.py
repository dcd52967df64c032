"""Requests that land in the middle of another: an upload aborted while its complete registers the
file, a dataset or a file deleted while its ingestion runs.

The server runs in this process (uvicorn on a thread) so a test can place the second request at
the exact point of the first where it matters; both still go over HTTP.
"""

import logging
import os
import secrets
import threading
import time

import pytest
import requests

from crucible.mfid import new_mfid
from crucible.server.ingestor import INGESTORS, IngestError

from .conftest import Api


@pytest.fixture
def inproc(tmp_path):
    """An admin ``Api`` on a server running in this process."""
    import uvicorn

    from crucible.server.app import create_app
    from crucible.server.runner import bind_socket
    from crucible.server.settings import Settings

    sock = bind_socket("127.0.0.1", 0)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    key = "ck_admin_" + secrets.token_urlsafe(24)
    settings = Settings(data_dir=tmp_path, public_url=base, admin_key=key)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_config=None, access_log=False,
                                           lifespan="on", http="h11"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "in-process server did not start"
        time.sleep(0.01)
    try:
        with Api(settings.api_url, key) as admin:
            yield admin
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def _dataset(admin: Api) -> str:
    r = admin.post("/datasets", json={"unique_id": new_mfid(), "dataset_name": "race"})
    assert r.status_code == 200, r.text
    return r.json()["unique_id"]


def test_an_upload_aborted_while_its_complete_registers_the_file(inproc, monkeypatch):
    """The abort lands after the file row is committed: complete still answers with that file."""
    from crucible.server.routes import files

    admin = inproc
    ds = _dataset(admin)
    data = os.urandom(1000)
    base = f"/datasets/{ds}/upload/multipart"
    uid = admin.post(f"{base}/initiate", json={"filename": "a.bin", "size": len(data)}).json()["upload_id"]
    [part] = admin.post(f"{base}/{uid}/parts", json={"parts": [{"part_number": 1}]}).json()["parts"]
    assert requests.put(part["url"], data=data, timeout=30).status_code == 200
    register, aborted = files.register_blob, []

    def register_then_abort(*args, **kwargs):
        registered = register(*args, **kwargs)
        aborted.append(admin.delete(f"{base}/{uid}").status_code)
        return registered

    monkeypatch.setattr(files, "register_blob", register_then_abort)
    r = admin.post(f"{base}/complete", json={"upload_id": uid})
    assert aborted == [200]
    assert r.status_code == 200, r.text
    assert [f["mfid"] for f in admin.get(f"/datasets/{ds}/files").json()] == [r.json()["mfid"]]


def _final(admin: Api, rid: int) -> dict:
    """Ingestion request ``rid`` once it has left ``requested`` and ``started``."""
    deadline = time.monotonic() + 20
    while (req := admin.get(f"/ingestion_requests/{rid}").json())["status"] in ("requested",
                                                                                "started"):
        assert time.monotonic() < deadline, f"request {rid} stayed {req['status']}"
        time.sleep(0.02)
    return req


@pytest.mark.parametrize("outcome", ["fails", "succeeds"])
def test_a_dataset_deleted_while_its_ingestion_runs(inproc, monkeypatch, caplog, outcome):
    """The request went with its dataset before the worker recorded how the ingestion ended (a
    failure or a success): the worker skips it quietly and goes on with the next request."""
    admin = inproc

    class DeletesItsDataset:
        """The dataset is hard-deleted (its ingestion requests with it) while this one runs."""

        name = "DeletesItsDataset"

        def run(self, db, storage, req) -> None:
            r = admin.delete(f"/resources/{req.dataset_mfid}", params={"force": "true"})
            assert r.status_code == 200, r.text
            if outcome == "fails":
                raise IngestError("the dataset went away")

    monkeypatch.setitem(INGESTORS, DeletesItsDataset.name, DeletesItsDataset)
    doomed = _dataset(admin)
    first = admin.post(f"/datasets/{doomed}/ingest", params={"ingestion_class": DeletesItsDataset.name})
    assert first.status_code == 200, first.text
    deadline = time.monotonic() + 20
    while admin.get(f"/ingestion_requests/{first.json()['id']}").status_code != 404:
        assert time.monotonic() < deadline, "the dataset was not deleted"
        time.sleep(0.02)
    later = admin.post(f"/datasets/{_dataset(admin)}/ingest", params={"ingestion_class": "FailingIngestor"})
    assert _final(admin, later.json()["id"])["status"] == "failed"  # the worker went on
    assert admin.get(f"/datasets/{doomed}").status_code == 404
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_a_file_deleted_while_it_is_ingested(inproc, monkeypatch, caplog):
    """The file row goes while the ingestor works on it: the request ends ``file not found``
    instead of staying ``started``, and the worker logs no error."""
    from crucible.server.ingestor import ApiUploadIngestor

    admin = inproc

    class LosesItsFile(ApiUploadIngestor):
        """Deletes the file (over HTTP) after the ingestor loaded it, then stores it as usual."""

        name = "LosesItsFile"

        def run(self, db, storage, req) -> None:
            from sqlalchemy import select

            from crucible.server.db import File

            f = db.scalar(select(File).where(File.mfid == req.file_mfid))  # loaded, as usual
            assert admin.delete(f"/files/{req.file_mfid}").status_code == 200
            f.storage_path = "mf-storage-prod/gone"  # written to a row that no longer exists

    monkeypatch.setitem(INGESTORS, LosesItsFile.name, LosesItsFile)
    ds = _dataset(admin)
    data = os.urandom(1000)
    init = admin.post(f"/datasets/{ds}/upload/initiate", json={"filename": "a.bin", "size": len(data)})
    assert init.status_code == 200, init.text
    init = init.json()
    put = requests.put(init["resumable_uri"], data=data, timeout=30,
                       headers={"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"})
    assert put.status_code in (200, 201), put.text
    mfid = admin.post(f"/datasets/{ds}/upload/complete", json={"upload_id": init["upload_id"]}).json()["mfid"]
    rid = admin.post(f"/files/{mfid}/ingest", params={"ingestion_class": LosesItsFile.name}).json()["id"]
    req = _final(admin, rid)
    assert req["status"] == "file not found", req
    assert "deleted while it was ingested" in req["error_message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
