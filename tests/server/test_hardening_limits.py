"""Bad input gets a 4xx, races end in idempotent success, the data dir is private, bodies are capped
(issue 12, items 8, 10, 11)."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests


HUGE = str(10**23)


# --- 8. no 500 on bad input -------------------------------------------------------------------

@pytest.mark.parametrize("method,path,params", [
    ("GET", "/datasets", {"cursor": HUGE}),
    ("GET", "/datasets", {"size": str(10**30)}),
    ("GET", "/files", {"offset": HUGE}),
    ("GET", "/projects", {"offset": HUGE}),
    ("GET", "/instruments", {"offset": HUGE}),
    ("GET", "/deletion_requests", {"offset": HUGE}),
    ("GET", "/account/join_requests", {"offset": HUGE}),
    ("GET", "/ingestion_requests", {"offset": HUGE}),
    ("GET", f"/ingestion_requests/{HUGE}", {}),
    ("GET", f"/deletion_requests/{HUGE}", {}),
    ("GET", "/datasets", {"creation_time_gte": "0001-01-01T00:00:00+14:00"}),
])
def test_out_of_range_numbers_are_422(api, method, path, params):
    r = api.request(method, path, params=params)
    assert r.status_code == 422, r.text


def test_out_of_range_bodies_are_422(api, admin, new_dataset):
    ds = new_dataset()["unique_id"]
    r = api.post(f"/datasets/{ds}/upload/initiate", json={"filename": "x", "size": 10**30})
    assert r.status_code == 422
    assert api.post("/datasets", json={"dataset_name": "big", "size": 10**30}).status_code == 422
    r = admin.patch(f"/join_requests/{HUGE}", json={"status": "approved"})
    assert r.status_code == 422
    assert admin.patch(f"/deletion_requests/{HUGE}", params={"status": "approved"}).status_code == 422


def test_racing_identical_requests_all_succeed_once(api, new_dataset, make_user, crucible_user):
    parent, child = new_dataset()["unique_id"], new_dataset()["unique_id"]
    _, member, _ = make_user()
    pid = crucible_user.project_id

    def race(call):
        with ThreadPoolExecutor(20) as pool:
            return [r.status_code for r in pool.map(lambda _: call(), range(20))]

    assert race(lambda: api.post(f"/datasets/{parent}/children/{child}")) == [200] * 20
    assert race(lambda: api.post(f"/datasets/{parent}/keywords", params={"keyword": "race"})) == [200] * 20
    assert race(lambda: api.post(f"/projects/{pid}/users/{member}")) == [200] * 20
    assert [c["unique_id"] for c in api.get(f"/datasets/{parent}/children").json()["items"]] == [child]
    assert api.get(f"/datasets/{parent}/keywords").json() == [{"keyword": "race", "num_datasets": 1}]
    members = [u["unique_id"] for u in api.get(f"/projects/{pid}/users").json()["items"]]
    assert members.count(member) == 1


# --- 10. the data dir is private; links cannot live long ------------------------------------

def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_dir_and_blobs_are_owner_only(api, new_dataset, ingested, crucible_server):
    ds = new_dataset()["unique_id"]
    f = ingested(api, ds, b"private bytes")
    root = crucible_server.data_dir
    for d in (root, root / "uploads", root / "staged", root / "store"):
        assert _mode(d) == 0o700, d
    for p in (root / "crucible.db", crucible_server.stored_file_path(f["mfid"])):
        assert _mode(p) & 0o077 == 0, p


def _secret(server) -> bytes:
    with sqlite3.connect(server.data_dir / "crucible.db") as conn:
        row = conn.execute("SELECT value FROM server_state WHERE key = 'signing_secret'").fetchone()
    return bytes.fromhex(row[0])


def test_signed_links_with_a_far_expiry_are_refused(api, new_dataset, ingested,
                                                    crucible_server):
    ds = new_dataset()["unique_id"]
    f = ingested(api, ds, b"linked")
    url = api.get(f"/files/{f['mfid']}/download_link").json()["url"]
    assert requests.get(url, timeout=30).content == b"linked"
    expires = int(parse_qs(urlsplit(url).query)["expires"][0])
    assert expires <= time.time() + 3600 + 60
    far = int(time.time()) + 10 * 365 * 86400  # forged with the real secret
    sig = hmac.new(_secret(crucible_server), f"{f['mfid']}:{far}".encode(), hashlib.sha256).hexdigest()
    forged = url.split("?")[0] + f"?expires={far}&sig={sig}"
    assert requests.get(forged, timeout=30).status_code == 403


# --- 11. request bodies are capped ---------------------------------------------------------------

def test_huge_json_bodies_are_refused_and_store_nothing(api, new_dataset):
    ds = new_dataset()["unique_id"]
    big = {"blob": "x" * (20 * 1024**2)}
    r = api.patch(f"/resources/{ds}/metadata", json=big)
    assert r.status_code == 413
    assert api.get(f"/resources/{ds}/metadata").json() is None

    def chunks():  # no Content-Length: the cap applies while streaming
        body = json.dumps(big).encode()
        for i in range(0, len(body), 1 << 20):
            yield body[i:i + (1 << 20)]

    r = api.patch(f"/resources/{ds}/metadata", data=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    thumb = {"thumbnail_name": "t", "thumbnail_b64str": "A" * (3 * 1024**2)}
    assert api.post(f"/datasets/{ds}/thumbnails", json=thumb).status_code == 422
    thumb["thumbnail_b64str"] = "A" * (20 * 1024**2)
    assert api.post(f"/datasets/{ds}/thumbnails", json=thumb).status_code == 413
    assert api.get(f"/datasets/{ds}/thumbnails").json() == []
    ok = api.patch(f"/resources/{ds}/metadata", json={"normal": list(range(1000))})
    assert ok.status_code == 200


def test_file_routes_are_not_capped_by_the_json_limit(api, new_dataset, upload):
    ds = new_dataset()["unique_id"]
    data = b"y" * (5 * 1024**2)
    f = upload(api, ds, data, chunk=len(data))
    assert f["size"] == len(data)


def test_text_that_is_not_unicode_is_refused_and_stores_nothing(api, new_dataset, crucible_user):
    ds = new_dataset()["unique_id"]
    lone = "\ud800"  # a lone surrogate: valid JSON escape, not storable or sendable as UTF-8
    assert api.patch(f"/resources/{ds}/metadata", json={"k": lone}).status_code == 422
    assert api.patch(f"/resources/{ds}/metadata", json={lone: 1}).status_code == 422
    assert api.get(f"/resources/{ds}/metadata").json() is None
    assert api.patch(f"/datasets/{ds}", json={"measurement": lone}).status_code == 422
    assert api.get(f"/datasets/{ds}").json()["measurement"] is None
    assert api.post("/datasets", json={"dataset_name": lone,
                                       "project_id": crucible_user.project_id}).status_code == 422
    assert api.patch("/account/profile", json={"first_name": lone}).status_code == 422
    ok = api.patch(f"/resources/{ds}/metadata", json={"emoji": "\U0001F600"})  # a proper pair
    assert ok.status_code == 200 and ok.json()["scientific_metadata"] == {"emoji": "\U0001F600"}
