"""No byte is lost, nothing is left behind, no hostile name gets in (issue 12, items 2, 5, 6, 7, 9)."""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests

from .conftest import CHUNK, put_chunks


def _uploads_dir(server):
    return server.data_dir / "uploads"


def _leftovers(server, before: set[str]) -> set[str]:
    return {p.name for p in _uploads_dir(server).iterdir()} - before


# --- 2. a row registered without bytes never swallows a real upload ---------------------------

def test_bytes_less_row_does_not_swallow_an_upload(api, new_dataset, upload, wait_ingested):
    ds = new_dataset()["unique_id"]
    data = os.urandom(CHUNK + 99)
    sha = hashlib.sha256(data).hexdigest()
    ghost = api.post(f"/datasets/{ds}/associated_files",
                     json={"filename": "run/data.bin", "size": len(data), "sha256_hash": sha}).json()
    init = api.post(f"/datasets/{ds}/upload/initiate",
                    json={"filename": "run/data.bin", "size": len(data), "sha256_hash": sha}).json()
    assert "existing_file" not in init and "resumable_uri" in init
    multi = api.post(f"/datasets/{ds}/upload/multipart/initiate",
                     json={"filename": "run/data.bin", "size": len(data), "sha256_hash": sha}).json()
    assert "existing_file" not in multi
    f = upload(api, ds, data, name="run/data.bin")
    assert f["mfid"] != ghost["mfid"] and f["sha256_hash"] == sha
    req = api.post(f"/datasets/{ds}/ingest", params={"file_to_upload": "run/data.bin"}).json()
    assert req["file_mfid"] == f["mfid"]
    assert wait_ingested(api, req["id"])["status"] == "complete"
    url = api.get(f"/files/{f['mfid']}/download_link").json()["url"]
    assert requests.get(url, timeout=30).content == data
    # now the content is really there: a second upload is answered as existing
    again = api.post(f"/datasets/{ds}/upload/initiate",
                     json={"filename": "copy.bin", "size": len(data), "sha256_hash": sha}).json()
    assert again["existing_file"]["mfid"] == f["mfid"]


def test_bytes_less_row_does_not_swallow_an_s_era_upload(api, new_dataset):
    ds = new_dataset()["unique_id"]
    data = b"s-era content " * 100
    sha = hashlib.sha256(data).hexdigest()
    ghost = api.post(f"/datasets/{ds}/associated_files",
                     json={"filename": "scan.raw", "size": len(data), "sha256_hash": sha}).json()
    rows = api.post(f"/datasets/{ds}/upload", files=[("files", ("scan.raw", data))]).json()
    assert rows[0]["mfid"] != ghost["mfid"]
    assert api.get(f"/files/{rows[0]['mfid']}").json()["size"] == len(data)


# --- 5. concurrent uploads of the same content end on one row ---------------------------------

def test_concurrent_same_content_uploads_make_one_row(api, new_dataset, crucible_server):
    ds = new_dataset()["unique_id"]
    data = os.urandom(CHUNK + 5)
    sha = hashlib.sha256(data).hexdigest()
    before = {p.name for p in _uploads_dir(crucible_server).iterdir()}
    inits = [api.post(f"/datasets/{ds}/upload/initiate",
                      json={"filename": f"same-{i}.bin", "size": len(data), "sha256_hash": sha}).json()
             for i in range(20)]  # nothing is on the dataset yet: 20 uploads start
    for init in inits:
        put_chunks(init["resumable_uri"], data)
    with ThreadPoolExecutor(20) as pool:  # and all complete at once
        done = list(pool.map(lambda i: api.post(f"/datasets/{ds}/upload/complete",
                                                json={"upload_id": i["upload_id"]}), inits))
    assert [r.status_code for r in done] == [200] * 20
    assert len({r.json()["mfid"] for r in done}) == 1
    rows = api.get(f"/datasets/{ds}/files").json()
    assert [r["mfid"] for r in rows] == [done[0].json()["mfid"]]
    assert _leftovers(crucible_server, before) == set()  # the losers' bytes were not kept
    # the rule is the database's, not a matter of timing: a second row with bytes cannot exist
    with sqlite3.connect(crucible_server.data_dir / "crucible.db", timeout=30) as conn:
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("INSERT INTO files (mfid, dataset_mfid, relpath, filename, size, sha256_hash, "
                         "crc32c, creation_time) VALUES (?, ?, 'dup', 'dup', 1, ?, 'AAAAAA==', '')",
                         ("dup" + ds, ds, sha))


# --- 6. S-era multipart bodies leave no temporary files -------------------------------------

def _raw_post(server, path: str, headers: dict[str, str], body: bytes, *, read: bool = True) -> int | None:
    """POST over a raw socket (a body may be cut short); the status, or None if not read."""
    url = urlsplit(server.url)
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    head = [f"POST {url.path}{path} HTTP/1.1", f"Host: {url.netloc}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    status = None
    if read:
        status = int(sock.recv(1024).split(b" ", 2)[1])
    sock.close()
    return status


def _wait_until_gone(server, before: set[str]) -> set[str]:
    """The server removes temp files when it notices the cut; give it a moment to notice."""
    deadline = time.monotonic() + 20
    while _leftovers(server, before) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _leftovers(server, before)


def test_malformed_or_cut_multipart_bodies_leave_no_temp_files(api, new_dataset, crucible_server):
    ds = new_dataset()["unique_id"]
    key = api.headers["Authorization"]
    before = {p.name for p in _uploads_dir(crucible_server).iterdir()}
    start = (b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x.bin\"\r\n\r\n"
             + os.urandom(3 * 1024 * 1024))
    ctype = "multipart/form-data; boundary=b"
    bad = api.post(f"/datasets/{ds}/upload", data=start, headers={"Content-Type": ctype})
    assert bad.status_code == 400  # no closing boundary
    hostile = api.post(f"/datasets/{ds}/upload", headers={"Content-Type": ctype},
                       data=b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"..\"\r\n"
                            b"\r\nabc\r\n--b--\r\n")
    assert hostile.status_code == 422
    for _ in range(3):  # bodies cut off mid-part: the client goes away
        _raw_post(crucible_server, f"/datasets/{ds}/upload",
                  {"Authorization": key, "Content-Type": ctype, "Content-Length": str(10 * len(start))},
                  start, read=False)
    too_big = _raw_post(crucible_server, f"/datasets/{ds}/upload",
                        {"Authorization": key, "Content-Type": ctype, "Content-Length": str(3 * 1024**3)}, b"")
    assert too_big == 413
    assert _wait_until_gone(crucible_server, before) == set()
    assert api.get(f"/datasets/{ds}/files").json() == []


# --- 7. hostile file names are refused ------------------------------------------------------

HOSTILE = ["../../x", "/etc/passwd", "a\x00b", "line\nbreak", "..", ".", "a/../b", "a//b",
           "x" * 5000, "dir\\..\\x", ""]


@pytest.mark.parametrize("name", HOSTILE, ids=lambda n: repr(n[:20]))
def test_hostile_file_names_are_refused(api, admin, new_dataset, name):
    ds = new_dataset()["unique_id"]
    body = {"filename": name, "size": 3, "sha256_hash": hashlib.sha256(b"abc").hexdigest()}
    for path in ("upload/initiate", "upload/multipart/initiate", "associated_files"):
        r = api.post(f"/datasets/{ds}/{path}", json=body)
        assert r.status_code == 422, (path, r.text)
    assert api.get(f"/datasets/{ds}/files").json() == []


def test_admin_cannot_patch_in_a_hostile_name(api, admin, new_dataset, upload):
    ds = new_dataset()["unique_id"]
    f = upload(api, ds, b"named")
    for name in HOSTILE[:-1]:
        for field in ("filename", "storage_path"):
            assert admin.patch(f"/files/{f['mfid']}", json={field: name}).status_code == 422
    assert api.get(f"/files/{f['mfid']}").json()["filename"] == "data.bin"


# --- 9. a hard delete leaves nothing behind ----------------------------------------------------

def test_hard_delete_removes_uploads_requests_and_bytes(api, admin, new_dataset, upload,
                                                        wait_ingested, crucible_server, crucible_user):
    ds = new_dataset()["unique_id"]
    f = upload(api, ds, b"ingested content")
    req = api.post(f"/files/{f['mfid']}/ingest").json()
    assert wait_ingested(api, req["id"])["status"] == "complete"
    blob = crucible_server.stored_file_path(f["mfid"])
    assert blob.exists()
    data = os.urandom(2 * CHUNK)
    init = api.post(f"/datasets/{ds}/upload/initiate",
                    json={"filename": "pending.bin", "size": len(data)}).json()
    first = requests.put(init["resumable_uri"], data=data[:CHUNK], timeout=30,
                         headers={"Content-Range": f"bytes 0-{CHUNK - 1}/{len(data)}"})
    assert first.status_code == 308
    part = _uploads_dir(crucible_server) / f"{init['upload_id']}.part"
    assert part.exists()
    api.post(f"/datasets/{ds}/thumbnails", json={"thumbnail_name": "t", "thumbnail_b64str": "AAAA"})
    assert admin.delete(f"/resources/{ds}", params={"force": "true"}).status_code == 200

    assert not part.exists() and not blob.exists()
    probe = requests.put(init["resumable_uri"], headers={"Content-Range": f"bytes */{len(data)}"},
                         timeout=30)
    assert probe.status_code == 404
    again = api.post("/datasets", json={"unique_id": ds, "dataset_name": "reborn",
                                        "project_id": crucible_user.project_id})
    assert again.status_code == 200
    assert "deletion_request" not in api.get(f"/datasets/{ds}").json()
    assert api.get("/ingestion_requests", params={"dataset_id": ds}).json()["total"] == 0
    assert api.get(f"/datasets/{ds}/files").json() == []
    assert api.get(f"/datasets/{ds}/thumbnails").json() == []
    late = api.post(f"/datasets/{ds}/upload/complete", json={"upload_id": init["upload_id"]})
    assert late.status_code == 404
