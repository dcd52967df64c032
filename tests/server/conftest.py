"""Helpers for server tests: an authenticated HTTP session on the API root, and more users."""

from __future__ import annotations

import hashlib
import itertools

import pytest
import requests

_orcids = itertools.count(100)


class Api(requests.Session):
    """``requests.Session`` with the API root prefixed to relative paths and a Bearer key."""

    def __init__(self, root: str, key: str | None) -> None:
        super().__init__()
        self.root = root.rstrip("/")
        if key:
            self.headers["Authorization"] = f"Bearer {key}"

    def request(self, method, url, *args, **kwargs):  # noqa: D401 - requests signature
        if url.startswith("/"):
            url = self.root + url
        kwargs.setdefault("timeout", 30)
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def api(crucible_server, crucible_user) -> Api:
    """The normal test user."""
    with Api(crucible_server.url, crucible_user.api_key) as s:
        yield s


@pytest.fixture(scope="module")
def private_server():
    """A server of its own for tests that change faults or ingest mode, with one user.

    Yields (LocalCrucible, user Api, admin Api, project_id).
    """
    from crucible.server.local import LocalCrucible

    with LocalCrucible() as srv:
        n = next(_orcids)
        key = srv.add_user(f"0000-0007-{n:04d}-0001", projects=[f"PRIV{n}"])
        with Api(srv.url, key) as user, Api(srv.url, srv.admin_key) as adm:
            yield srv, user, adm, f"PRIV{n}"


@pytest.fixture
def admin(crucible_server) -> Api:
    with Api(crucible_server.url, crucible_server.admin_key) as s:
        yield s


@pytest.fixture
def make_user(crucible_server):
    """Create a fresh user in its own project; returns (Api, orcid, project_id)."""
    sessions = []

    def make(projects=None, admin=False):
        n = next(_orcids)
        orcid = f"0000-0003-{n:04d}-0001"
        pid = f"PRJ{n}"
        key = crucible_server.add_user(orcid, first_name=f"U{n}", last_name="Tester",
                                       email=f"u{n}@example.org",
                                       projects=[pid] if projects is None else projects, admin=admin)
        s = Api(crucible_server.url, key)
        sessions.append(s)
        return s, orcid, pid

    yield make
    for s in sessions:
        s.close()


CHUNK = 256 * 1024


def put_chunks(uri: str, data: bytes, chunk: int = CHUNK) -> requests.Response:
    """PUT ``data`` to a resumable URI in chunks (no API key); return the last response."""
    total = len(data)
    if total == 0:
        return requests.put(uri, data=b"", headers={"Content-Range": "bytes */0"}, timeout=30)
    for a in range(0, total, chunk):
        b = min(a + chunk, total) - 1
        r = requests.put(uri, data=data[a:b + 1], timeout=30,
                         headers={"Content-Range": f"bytes {a}-{b}/{total}"})
        assert r.status_code == (200 if b + 1 == total else 308), r.text
    return r


@pytest.fixture
def new_dataset(api, crucible_user):
    """Create a dataset in the test user's project; returns its record."""
    from crucible.mfid import new_mfid

    def make(client=None, **fields):
        body = {"unique_id": new_mfid(), "dataset_name": "test dataset",
                "project_id": crucible_user.project_id, "public": False} | fields
        r = (client or api).post("/datasets", json=body)
        assert r.status_code == 200, r.text
        return r.json()

    return make


@pytest.fixture
def upload():
    """Full resumable upload: initiate, chunk PUTs, complete. Returns the AssociatedFile."""

    def run(client, dsid: str, data: bytes, name: str = "data.bin", chunk: int = CHUNK) -> dict:
        sha = hashlib.sha256(data).hexdigest()
        r = client.post(f"/datasets/{dsid}/upload/initiate",
                        json={"filename": name, "size": len(data), "sha256_hash": sha})
        assert r.status_code == 200, r.text
        init = r.json()
        if "existing_file" in init:
            return init["existing_file"]
        put_chunks(init["resumable_uri"], data, chunk)
        r = client.post(f"/datasets/{dsid}/upload/complete",
                        json={"upload_id": init["upload_id"], "sha256_hash": sha})
        assert r.status_code == 200, r.text
        return r.json()

    return run


@pytest.fixture
def wait_ingested():
    import time

    def wait(client, rid: int, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            req = client.get(f"/ingestion_requests/{rid}").json()
            if req["status"] not in ("requested", "started") or time.monotonic() > deadline:
                return req
            time.sleep(0.05)

    return wait


@pytest.fixture
def ingested(upload, wait_ingested):
    """Upload ``data`` to a dataset and ingest it with the server's default ingestor; returns
    the file record once its ingestion is complete (a signed link can be had for it)."""

    def run(client, dsid: str, data: bytes) -> dict:
        f = upload(client, dsid, data)
        request = client.post(f"/files/{f['mfid']}/ingest").json()
        assert wait_ingested(client, request["id"])["status"] == "complete"
        return f

    return run
