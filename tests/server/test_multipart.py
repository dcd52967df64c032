"""Signed multipart uploads (nano-crucible 3.3's default flow): sign parts, PUT them, complete."""

import base64
import hashlib
import os

import google_crc32c
import requests

PART = 8 * 1024 * 1024


def _crc(data: bytes) -> str:
    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()


def test_signed_multipart_round_trip(api, new_dataset, wait_ingested):
    ds = new_dataset()["unique_id"]
    data = os.urandom(2 * PART + 12345)
    sha = hashlib.sha256(data).hexdigest()
    init = api.post(f"/datasets/{ds}/upload/multipart/initiate",
                    json={"filename": "big/frames.raw", "size": len(data), "sha256_hash": sha}).json()
    uid, size = init["upload_id"], init["part_size"]
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    assert len(chunks) == init["part_count"] == 3
    signed = api.post(f"/datasets/{ds}/upload/multipart/{uid}/parts",
                      json={"parts": [{"part_number": n + 1, "crc32c": _crc(c)}
                                      for n, c in enumerate(chunks)]}).json()["parts"]
    assert [p["offset"] for p in signed] == [0, size, 2 * size]
    assert requests.put(signed[0]["url"], data=chunks[1], timeout=30).status_code == 400  # wrong bytes
    assert requests.put(signed[0]["url"].replace("sig=", "sig=0"), data=chunks[0], timeout=30).status_code == 403
    for part, chunk in zip(signed, chunks):
        assert requests.put(part["url"], data=chunk, timeout=60).status_code == 200
    assert requests.put(signed[2]["url"], data=chunks[2], timeout=60).status_code == 200  # re-sent
    acked = api.get(f"/datasets/{ds}/upload/multipart/{uid}").json()["parts"]
    assert [p["part_number"] for p in acked] == [1, 2, 3]
    body = {"upload_id": uid, "sha256_hash": sha, "crc32c": _crc(data)}
    f = api.post(f"/datasets/{ds}/upload/multipart/complete", json=body).json()
    assert f["sha256_hash"] == sha and f["size"] == len(data)
    assert api.post(f"/datasets/{ds}/upload/multipart/complete", json=body).json()["mfid"] == f["mfid"]
    again = api.post(f"/datasets/{ds}/upload/multipart/initiate",
                     json={"filename": "copy", "size": len(data), "sha256_hash": sha}).json()
    assert again["existing_file"]["mfid"] == f["mfid"]
    req = api.post(f"/files/{f['mfid']}/ingest").json()
    assert wait_ingested(api, req["id"])["status"] == "complete"
    url = api.get(f"/files/{f['mfid']}/download_link").json()["url"]
    assert requests.get(url, timeout=60).content == data


def test_incomplete_and_corrupt_multipart_uploads(api, new_dataset):
    ds = new_dataset()["unique_id"]
    data = os.urandom(PART + 10)
    init = api.post(f"/datasets/{ds}/upload/multipart/initiate",
                    json={"filename": "x", "size": len(data), "sha256_hash": "0" * 64}).json()
    uid = init["upload_id"]
    signed = api.post(f"/datasets/{ds}/upload/multipart/{uid}/parts",
                      json={"parts": [{"part_number": 1}, {"part_number": 2}]}).json()["parts"]
    assert api.post(f"/datasets/{ds}/upload/multipart/{uid}/parts",
                    json={"parts": [{"part_number": 3}]}).status_code == 422
    assert requests.put(signed[0]["url"], data=data[:PART], timeout=60).status_code == 200
    r = api.post(f"/datasets/{ds}/upload/multipart/complete", json={"upload_id": uid})
    assert r.status_code == 422 and "incomplete" in r.json()["detail"]
    assert requests.put(signed[1]["url"], data=data[PART:], timeout=60).status_code == 200
    r = api.post(f"/datasets/{ds}/upload/multipart/complete", json={"upload_id": uid})
    assert r.status_code == 422 and "sha256" in r.json()["detail"]  # declared hash was wrong
    assert api.get(f"/datasets/{ds}/upload/multipart/{uid}").status_code == 404  # discarded
    assert api.get(f"/datasets/{ds}/files").json() == []
    other = api.post(f"/datasets/{ds}/upload/multipart/initiate",
                     json={"filename": "y", "size": 5}).json()["upload_id"]
    assert api.delete(f"/datasets/{ds}/upload/multipart/{other}").status_code == 200
    assert api.get(f"/datasets/{ds}/upload/multipart/{other}").status_code == 404


def test_multipart_routes_refuse_a_resumable_upload(api, new_dataset):
    """A resumable upload has no part size: every multipart route answers 404, never a 500."""
    ds = new_dataset()["unique_id"]
    uid = api.post(f"/datasets/{ds}/upload/initiate",
                   json={"filename": "r.bin", "size": 10}).json()["upload_id"]
    base = f"/datasets/{ds}/upload/multipart"
    for r in (api.get(f"{base}/{uid}"),
              api.post(f"{base}/{uid}/parts", json={"parts": [{"part_number": 1}]}),
              api.post(f"{base}/complete", json={"upload_id": uid}),
              api.delete(f"{base}/{uid}")):
        assert r.status_code == 404 and "not a multipart upload" in r.json()["detail"], r.text
