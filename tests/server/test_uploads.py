"""Resumable uploads, complete, ingestion, download links and signed downloads."""

import base64
import hashlib
import os
import time

import google_crc32c
import requests

CHUNK = 256 * 1024


def _init(api, dsid, data, name="f.bin", sha=None):
    r = api.post(f"/datasets/{dsid}/upload/initiate",
                 json={"filename": name, "size": len(data),
                       "sha256_hash": sha or hashlib.sha256(data).hexdigest()})
    assert r.status_code == 200, r.text
    return r.json()


def _put(uri, data, a, b, total):
    return requests.put(uri, data=data, headers={"Content-Range": f"bytes {a}-{b}/{total}"}, timeout=30)


def test_full_cycle_upload_ingest_download(api, new_dataset, upload, wait_ingested):
    ds = new_dataset()["unique_id"]
    data = os.urandom(3 * CHUNK + 1234)
    f = upload(api, ds, data, name="raw/scan 1.bin")
    assert f["storage_path"] is None and f["size"] == len(data)
    assert f["sha256_hash"] == hashlib.sha256(data).hexdigest()
    assert f["filename"].endswith("raw/scan 1.bin")
    assert api.get(f"/files/{f['mfid']}/download_link").status_code == 404  # not ingested yet
    assert api.get(f"/datasets/{ds}/download_links").status_code == 404
    req = api.post(f"/files/{f['mfid']}/ingest").json()
    assert req["status"] == "requested" and req["ingestion_class"] == "ApiUploadIngestor"
    done = wait_ingested(api, req["id"])
    assert done["status"] == "complete" and done["time_completed"]
    stored = api.get(f"/files/{f['mfid']}").json()
    assert stored["storage_path"] == f"mf-storage-prod/{ds}/raw/scan 1.bin"
    dset = api.get(f"/datasets/{ds}").json()
    assert dset["size"] == len(data) and dset["sha256_hash_file_to_upload"] == f["sha256_hash"]
    links = api.get(f"/datasets/{ds}/download_links").json()
    assert list(links) == [f["mfid"]]
    got = requests.get(links[f["mfid"]], timeout=30)  # no API key
    assert got.status_code == 200 and got.content == data
    crc = base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()
    assert got.headers["x-goog-hash"] == f"crc32c={crc}"
    part = requests.get(links[f["mfid"]], headers={"Range": "bytes=100-199"}, timeout=30)
    assert part.status_code == 206 and part.content == data[100:200]
    url = api.get(f"/files/{f['mfid']}/download_link").json()["url"]
    assert requests.get(url, timeout=30).content == data
    head = requests.head(url, timeout=30)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(data)
    assert head.headers["accept-ranges"] == "bytes"


def test_final_chunk_reports_crc32c_and_probe(api, new_dataset):
    ds = new_dataset()["unique_id"]
    data = os.urandom(CHUNK + 10)
    init = _init(api, ds, data)
    uri = init["resumable_uri"]
    probe = requests.put(uri, headers={"Content-Range": f"bytes */{len(data)}"}, timeout=30)
    assert probe.status_code == 308 and "Range" not in probe.headers
    r = _put(uri, data[:CHUNK], 0, CHUNK - 1, len(data))
    assert r.status_code == 308 and r.headers["Range"] == f"bytes=0-{CHUNK - 1}"
    probe = requests.put(uri, headers={"Content-Range": f"bytes */{len(data)}"}, timeout=30)
    assert probe.status_code == 308 and probe.headers["Range"] == f"bytes=0-{CHUNK - 1}"
    r = _put(uri, data[CHUNK:], CHUNK, len(data) - 1, len(data))
    assert r.status_code == 200
    assert base64.b64decode(r.json()["crc32c"]) == google_crc32c.value(data).to_bytes(4, "big")
    probe = requests.put(uri, headers={"Content-Range": f"bytes */{len(data)}"}, timeout=30)
    assert probe.status_code == 200 and probe.json()["crc32c"] == r.json()["crc32c"]


def test_dedup_by_sha256_returns_existing_file(api, new_dataset, upload):
    ds = new_dataset()["unique_id"]
    data = b"same bytes" * 100
    first = upload(api, ds, data)
    again = _init(api, ds, data, name="other-name.bin")
    assert again == {"existing_file": again["existing_file"]}
    assert again["existing_file"]["mfid"] == first["mfid"]
    assert len(api.get(f"/datasets/{ds}/files").json()) == 1
    found = api.get("/files", params={"sha256_hash": hashlib.sha256(data).hexdigest()}).json()
    assert first["mfid"] in {f["mfid"] for f in found["items"]}


def test_out_of_order_and_wrong_size_chunks_are_rejected(api, new_dataset):
    ds = new_dataset()["unique_id"]
    data = os.urandom(2 * CHUNK + 7)
    uri = _init(api, ds, data)["resumable_uri"]
    r = _put(uri, data[CHUNK:2 * CHUNK], CHUNK, 2 * CHUNK - 1, len(data))
    assert r.status_code == 416 and "probe" in r.json()["detail"]
    r = _put(uri, data[:CHUNK - 1], 0, CHUNK - 1, len(data))  # body shorter than its range
    assert r.status_code == 400
    r = _put(uri, data[:1000], 0, 999, len(data))  # non-final chunk not a 256 KiB multiple
    assert r.status_code == 400
    r = _put(uri, data[:CHUNK], 0, CHUNK - 1, len(data) + 1)  # wrong total
    assert r.status_code == 400
    r = requests.put(uri, data=b"x", headers={"Content-Range": "bytes=0-0"}, timeout=30)
    assert r.status_code == 400
    # nothing half-written survived: a correct upload still works from offset 0
    assert _put(uri, data[:CHUNK], 0, CHUNK - 1, len(data)).status_code == 308
    assert _put(uri, data[:CHUNK], 0, CHUNK - 1, len(data)).status_code == 308  # retried chunk
    assert _put(uri, data[CHUNK:], CHUNK, len(data) - 1, len(data)).status_code == 200


def test_sha_mismatch_at_complete_discards_upload(api, new_dataset):
    ds = new_dataset()["unique_id"]
    data = os.urandom(5000)
    init = _init(api, ds, data, sha="0" * 64)
    assert _put(init["resumable_uri"], data, 0, len(data) - 1, len(data)).status_code == 200
    r = api.post(f"/datasets/{ds}/upload/complete", json={"upload_id": init["upload_id"],
                                                          "sha256_hash": "0" * 64})
    assert r.status_code == 422 and "sha256" in r.json()["detail"]
    assert api.get(f"/datasets/{ds}/files").json() == []
    r = api.post(f"/datasets/{ds}/upload/complete", json={"upload_id": init["upload_id"]})
    assert r.status_code == 404  # the upload is gone
    probe = requests.put(init["resumable_uri"], headers={"Content-Range": "bytes */5000"}, timeout=30)
    assert probe.status_code == 404


def test_incomplete_upload_cannot_complete(api, new_dataset):
    ds = new_dataset()["unique_id"]
    data = os.urandom(CHUNK * 2)
    init = _init(api, ds, data)
    _put(init["resumable_uri"], data[:CHUNK], 0, CHUNK - 1, len(data))
    r = api.post(f"/datasets/{ds}/upload/complete", json={"upload_id": init["upload_id"]})
    assert r.status_code == 422 and "incomplete" in r.json()["detail"]


def test_complete_is_idempotent(api, new_dataset):
    ds = new_dataset()["unique_id"]
    data = os.urandom(100)
    init = _init(api, ds, data)
    _put(init["resumable_uri"], data, 0, 99, 100)
    body = {"upload_id": init["upload_id"], "sha256_hash": hashlib.sha256(data).hexdigest()}
    one = api.post(f"/datasets/{ds}/upload/complete", json=body).json()
    two = api.post(f"/datasets/{ds}/upload/complete", json=body).json()
    assert one["mfid"] == two["mfid"]
    assert len(api.get(f"/datasets/{ds}/files").json()) == 1


def test_empty_file(api, new_dataset, upload, wait_ingested):
    ds = new_dataset()["unique_id"]
    f = upload(api, ds, b"", name="empty")
    assert f["size"] == 0
    req = api.post(f"/files/{f['mfid']}/ingest").json()
    assert wait_ingested(api, req["id"])["status"] == "complete"
    url = api.get(f"/files/{f['mfid']}/download_link").json()["url"]
    assert requests.get(url, timeout=30).content == b""


def test_ingest_is_idempotent_and_failing_ingestor(api, new_dataset, upload, wait_ingested):
    ds = new_dataset()["unique_id"]
    f = upload(api, ds, b"abc" * 10)
    one = api.post(f"/files/{f['mfid']}/ingest").json()
    two = api.post(f"/files/{f['mfid']}/ingest").json()
    assert one["id"] == two["id"]
    g = upload(api, ds, b"def" * 10)
    bad = api.post(f"/files/{g['mfid']}/ingest", params={"ingestion_class": "FailingIngestor"}).json()
    done = wait_ingested(api, bad["id"])
    assert done["status"] == "failed" and done["error_message"]
    retry = api.post(f"/files/{g['mfid']}/ingest").json()
    assert retry["id"] != bad["id"]
    assert wait_ingested(api, retry["id"])["status"] == "complete"
    assert api.post(f"/files/{g['mfid']}/ingest", params={"ingestion_class": "Nope"}).status_code == 422
    assert set(api.get("/ingestors").json()) >= {"ApiUploadIngestor", "FailingIngestor"}
    listed = api.get("/ingestion_requests", params={"file_id": g["mfid"]}).json()
    assert listed["total"] == 2


def test_signed_urls_reject_tampering_and_expiry(api, new_dataset, ingested,
                                                 crucible_server):
    ds = new_dataset()["unique_id"]
    f = ingested(api, ds, b"secret bytes")
    url = api.get(f"/files/{f['mfid']}/download_link").json()["url"]
    assert requests.get(url.replace("sig=", "sig=0"), timeout=30).status_code == 403
    base, query = url.split("?")
    params = dict(p.split("=") for p in query.split("&"))
    expired = f"{base}?expires={int(time.time()) - 1}&sig={params['sig']}"
    assert requests.get(expired, timeout=30).status_code == 403
    assert requests.get(base, timeout=30).status_code == 403


def test_legacy_associated_files(api, new_dataset):
    ds = new_dataset()["unique_id"]
    body = {"filename": "old/worker.dat", "size": 3, "sha256_hash": "a" * 64}
    one = api.post(f"/datasets/{ds}/associated_files", json=body).json()
    two = api.post(f"/datasets/{ds}/associated_files", json=body).json()
    assert one["mfid"] == two["mfid"] and one["storage_path"] is None
    assert [f["mfid"] for f in api.get(f"/datasets/{ds}/associated_files").json()] == [one["mfid"]]
    assert api.post(f"/datasets/{ds}/associated_files", json={"filename": "x"}).status_code == 422


def test_concurrent_duplicate_chunks_keep_the_upload_consistent(api, new_dataset):
    from concurrent.futures import ThreadPoolExecutor

    ds = new_dataset()["unique_id"]
    data = os.urandom(4 * CHUNK)
    init = _init(api, ds, data)
    uri = init["resumable_uri"]
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda _: _put(uri, data[:2 * CHUNK], 0, 2 * CHUNK - 1, len(data)).status_code,
                              range(6)))
    assert codes == [308] * 6
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda _: _put(uri, data[2 * CHUNK:], 2 * CHUNK, len(data) - 1,
                                             len(data)).status_code, range(4)))
    assert codes == [200] * 4
    f = api.post(f"/datasets/{ds}/upload/complete", json={"upload_id": init["upload_id"]}).json()
    assert f["sha256_hash"] == hashlib.sha256(data).hexdigest()


def test_legacy_multipart_upload_and_ingest_by_path(api, new_dataset, wait_ingested):
    ds = new_dataset()["unique_id"]
    big = os.urandom(3 * 1024 * 1024 + 17)
    small = b"--not a boundary\r\n" * 50
    r = api.post(f"/datasets/{ds}/upload", files=[
        ("files", ("scan.raw", big, "application/octet-stream")),
        ("files", ("../notes.txt", small, "application/octet-stream"))])
    assert r.status_code == 200, r.text
    rows = r.json()
    assert [f["filename"] for f in rows] == ["scan.raw", "notes.txt"]
    assert [f["upload_path"] for f in rows] == ["api-uploads/scan.raw", "api-uploads/notes.txt"]
    assert rows[0]["sha256_hash"] == hashlib.sha256(big).hexdigest() and rows[0]["size"] == len(big)
    assert rows[1]["sha256_hash"] == hashlib.sha256(small).hexdigest()
    again = api.post(f"/datasets/{ds}/upload", files=[("files", ("copy.raw", big))]).json()
    assert again[0]["mfid"] == rows[0]["mfid"]  # same content is not stored twice
    req = api.post(f"/datasets/{ds}/ingest", params={"file_to_upload": "api-uploads/scan.raw",
                                                      "ingestion_class": "ApiUploadIngestor"}).json()
    assert req["file_mfid"] == rows[0]["mfid"]
    assert wait_ingested(api, req["id"])["status"] == "complete"
    url = api.get(f"/files/{rows[0]['mfid']}/download_link").json()["url"]
    assert requests.get(url, timeout=30).content == big
    assert api.post(f"/datasets/{ds}/upload", data=b"x").status_code == 422
    bad = api.post(f"/datasets/{ds}/upload", data=b"--b\r\nContent-Disposition: form-data; name=\"files\"",
                   headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert bad.status_code == 400


def test_empty_file_completes_without_a_put(api, new_dataset):
    ds = new_dataset()["unique_id"]
    init = _init(api, ds, b"", name="nothing")
    r = api.post(f"/datasets/{ds}/upload/complete", json={"upload_id": init["upload_id"]})
    assert r.status_code == 200 and r.json()["size"] == 0
    assert r.json()["sha256_hash"] == hashlib.sha256(b"").hexdigest()


def test_not_requested_ingestion_waits_until_asked(api, new_dataset, upload, wait_ingested):
    ds = new_dataset()["unique_id"]
    f = upload(api, ds, b"later")
    held = api.post(f"/files/{f['mfid']}/ingest", params={"status": "not_requested"}).json()
    assert held["status"] == "not_requested"
    assert api.get(f"/ingestion_requests/{held['id']}").json()["status"] == "not_requested"
    assert api.get(f"/files/{f['mfid']}").json()["storage_path"] is None
    go = api.post(f"/files/{f['mfid']}/ingest", params={"status": "requested"}).json()
    assert go["id"] == held["id"] and go["status"] == "requested"
    assert wait_ingested(api, go["id"])["status"] == "complete"
    assert api.post(f"/files/{f['mfid']}/ingest", params={"status": "weird"}).status_code == 422
    listed = api.get("/ingestion_requests", params={"dataset_mfid": ds}).json()
    assert [r["id"] for r in listed["items"]] == [go["id"]]


def test_admin_can_patch_file_names(api, admin, new_dataset, upload):
    ds = new_dataset()["unique_id"]
    f = upload(api, ds, b"renamed")
    assert api.patch(f"/files/{f['mfid']}", json={"storage_path": "x"}).status_code == 403
    r = admin.patch(f"/files/{f['mfid']}", json={"storage_path": f"mf-storage-prod/{ds}/other.bin",
                                                  "filename": "renamed/other.bin"})
    assert r.status_code == 200 and r.json()["storage_path"].endswith("/other.bin")
    assert r.json()["filename"] == "renamed/other.bin"
    evil = admin.patch(f"/files/{f['mfid']}", json={"storage_path": f"mf-storage-prod/{ds}/../../evil"})
    assert evil.status_code == 422
    assert admin.patch(f"/files/{f['mfid']}", json={"size": 1}).status_code == 422
