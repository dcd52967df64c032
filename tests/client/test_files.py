"""files.* and datasets.upload_file: resumable, deduplicated, verified uploads; ingestion."""

from __future__ import annotations

import hashlib

import pytest
import requests

from crucible import ChecksumMismatchError, NotFoundError
from crucible.errors import UnverifiedUploadError
from crucible.mfid import new_mfid
from crucible.transfer import sha256_file, stream_url, upload_resumable
from crucible.transfer.paths import UnsafePathError


def test_upload_file_multi_chunk_then_wait(client, dataset, make_file):
    p = make_file("big.bin", 5 * 256 * 1024 + 17)
    seen: list[int] = []
    rec = client.files.upload(dataset, p, wait=True, timeout=60, progress=seen.append)
    assert rec["sha256_hash"] == sha256_file(p) and rec["size"] == p.stat().st_size
    assert rec["storage_path"] == f"mf-storage-prod/{dataset}/big.bin"
    assert rec["ingestion_request"]["status"] == "complete"
    assert sum(seen) == p.stat().st_size and len(seen) == 6
    assert client.files.get(rec["mfid"])["sha256_hash"] == rec["sha256_hash"]


def test_dedup_hit_uploads_nothing(client, dataset, make_file):
    p = make_file("same.bin", 2000)
    first = client.datasets.upload_file(dataset, p, wait=True, timeout=60)
    seen: list[int] = []
    again = client.files.upload(dataset, p, progress=seen.append)
    assert again["mfid"] == first["mfid"] and seen == []
    assert "ingestion_request" not in again  # already ingested: not re-ingested
    assert len(client.files.list(dataset_id=dataset)) == 1


def test_known_sha256_skips_hashing_and_is_checked(client, dataset, make_file):
    p = make_file("k.bin", 3000)
    digest = sha256_file(p)
    rec = client.datasets.upload_file(dataset, p, sha256=digest.upper(), ingest=False)
    assert rec["sha256_hash"] == digest
    q = make_file("wrong.bin", 3000)
    with pytest.raises(ChecksumMismatchError):
        client.datasets.upload_file(dataset, q, sha256="0" * 64, ingest=False)
    assert [f["mfid"] for f in client.files.list(dataset_id=dataset)] == [rec["mfid"]]


def test_relative_path_sets_the_stored_path(client, dataset, make_file):
    p = make_file("x.dat", 10)
    rec = client.datasets.upload_file(dataset, p, relative_path="raw/run1/x.dat", wait=True,
                                      timeout=60)
    assert rec["storage_path"] == f"mf-storage-prod/{dataset}/raw/run1/x.dat"
    for bad in ("../x.dat", "/etc/x.dat", "a/../../x"):
        with pytest.raises(UnsafePathError):
            client.datasets.upload_file(dataset, p, relative_path=bad)


def test_empty_file(client, dataset, make_file):
    p = make_file("empty.bin", content=b"")
    rec = client.datasets.upload_file(dataset, p, wait=True, timeout=60)
    assert rec["size"] == 0 and rec["sha256_hash"] == hashlib.sha256(b"").hexdigest()


def test_upload_resumes_from_the_server_confirmed_offset(client, dataset, make_file):
    """Half the file reaches the server, then the client starts over: it must probe and send
    only the rest (a chunk the server already has is answered 308 and skipped)."""
    p = make_file("resume.bin", 4 * 256 * 1024)
    data = p.read_bytes()
    init = client._transport.request(
        "POST", f"datasets/{dataset}/upload/initiate",
        json={"filename": "resume.bin", "size": len(data), "sha256_hash": sha256_file(p)})
    uri = init["resumable_uri"]
    half = 2 * 256 * 1024
    r = requests.put(uri, data=data[:half],
                     headers={"Content-Range": f"bytes 0-{half - 1}/{len(data)}"})
    assert r.status_code == 308
    sent: list[int] = []
    ranges: list[str] = []  # every PUT the client puts on the wire, as its Content-Range
    client.transport.storage.hooks["response"].append(
        lambda resp, **_: ranges.append(resp.request.headers.get("Content-Range")))
    upload_resumable(client._transport, uri, p, chunk_size=256 * 1024, progress=sent.append)
    rec = client._transport.request("POST", f"datasets/{dataset}/upload/complete",
                                    json={"upload_id": init["upload_id"],
                                          "sha256_hash": sha256_file(p)})
    assert rec["sha256_hash"] == hashlib.sha256(data).hexdigest()
    total, chunk = len(data), 256 * 1024
    # The first chunk is answered 308 with the confirmed half; the client goes on from there
    # and never sends the second quarter (a client restarting at byte 0 would).
    assert ranges == [f"bytes 0-{chunk - 1}/{total}",
                      f"bytes {half}-{half + chunk - 1}/{total}",
                      f"bytes {half + chunk}-{total - 1}/{total}"]
    assert sent == [half, chunk, chunk]


def test_files_list_get_link_download(client, dataset, make_file, tmp_path):
    p = make_file("dl.bin", 300 * 1024)
    rec = client.datasets.upload_file(dataset, p, wait=True, timeout=60)
    by_hash = client.files.list(sha256_hash=rec["sha256_hash"])
    assert rec["mfid"] in [f["mfid"] for f in by_hash]
    assert client.files.list(dataset_id=dataset, sha256_hash="f" * 64) == []
    url = client.files.download_link(rec["mfid"])
    assert url.startswith("http") and "sig=" in url
    assert b"".join(stream_url(url, chunk_size=4096)) == p.read_bytes()
    assert b"".join(stream_url(url, start=1000)) == p.read_bytes()[1000:]
    out = client.files.download(rec["mfid"], tmp_path / "out" / "dl.bin")
    assert out.read_bytes() == p.read_bytes()


def test_download_link_before_ingestion_is_not_found(client, dataset, make_file):
    rec = client.datasets.upload_file(dataset, make_file("n.bin", 10), ingest=False)
    with pytest.raises(NotFoundError):
        client.files.download_link(rec["mfid"])


def test_delete_file(client, dataset, make_file):
    rec = client.datasets.upload_file(dataset, make_file("gone.bin", 10), ingest=False)
    client.files.delete(rec["mfid"])
    with pytest.raises(NotFoundError):
        client.files.get(rec["mfid"])


def test_ingestions_namespace(client, dataset, make_file):
    rec = client.datasets.upload_file(dataset, make_file("i.bin", 10), ingest=False)
    req = client.ingestions.request(rec["mfid"])
    again = client.ingestions.request(rec["mfid"])
    done = client.ingestions.wait(req["id"], timeout=60)
    assert done["status"] == "complete" and done["file_mfid"] == rec["mfid"]
    assert again["id"] == req["id"]  # the open request is reused, not a second one made
    assert client.ingestions.request(rec["mfid"])["id"] == req["id"]  # and once complete
    assert client.ingestions.get(req["id"])["status"] == "complete"
    listed = client.ingestions.list(dataset_id=dataset)
    assert req["id"] in [r["id"] for r in listed]
    assert "ApiUploadIngestor" in client.ingestions.ingestors()


def test_ingestion_wait_has_a_deadline(client, dataset, make_file, crucible_server):
    rec = client.datasets.upload_file(dataset, make_file("m.bin", 10), ingest=False)
    crucible_server.set_ingest_mode("manual")
    try:
        req = client.ingestions.request(rec["mfid"])
        with pytest.raises(TimeoutError):
            client.ingestions.wait(req["id"], timeout=0.3, poll_interval=0.05)
    finally:
        crucible_server.set_ingest_mode("auto")


def test_admin_updates_ingestion_status(admin, client, dataset, make_file, crucible_server):
    rec = client.datasets.upload_file(dataset, make_file("f.bin", 10), ingest=False)
    crucible_server.set_ingest_mode("manual")
    try:
        req = client.ingestions.request(rec["mfid"])
        out = admin.datasets.update_ingestion_status(dataset, req["id"], "failed",
                                                     error_message="nope")
        assert out["status"] == "failed" and out["time_completed"]
        from crucible.resources import IngestionFailed

        with pytest.raises(IngestionFailed):
            client.ingestions.wait(req["id"], timeout=5, raise_on_failure=True)
    finally:
        crucible_server.set_ingest_mode("auto")


def test_unknown_file(client):
    with pytest.raises(NotFoundError):
        client.files.get(new_mfid())


def test_a_bytes_less_row_does_not_count_as_uploaded(client, dataset, make_file, tmp_path):
    """A row registered without bytes (add_associated_file) has the same sha256: the upload
    must send the bytes and either end with a stored copy or raise, never return quietly."""
    p = make_file("ghost.bin", 3000)
    ghost = client.datasets.add_associated_file(dataset, p)
    assert not ghost.get("storage_path")
    seen: list[int] = []
    try:
        rec = client.files.upload(dataset, p, progress=seen.append, wait=True, timeout=60)
    except UnverifiedUploadError as exc:
        assert ghost["mfid"] in str(exc) and "file not found" in str(exc)
        rec = None
    assert sum(seen) == 3000  # the bytes were sent, not skipped as a duplicate
    stored = [f for f in client.files.list(dataset_id=dataset) if f.get("storage_path")]
    if rec is None:  # the server kept its byte-less row (the local server does today)
        assert stored == []
        with pytest.raises(UnverifiedUploadError, match=ghost["mfid"]):
            client.files.upload(dataset, p, ingest=False)
    else:  # a server that keeps the bytes: they must really be there
        assert [f["mfid"] for f in stored] == [rec["mfid"]]
        assert client.files.download(rec["mfid"], tmp_path / "g").read_bytes() == p.read_bytes()


def test_an_uningested_copy_is_sent_again_and_ingested(client, dataset, make_file, tmp_path):
    """A copy uploaded with ingest=False cannot show its bytes (no storage_path); uploading it
    again sends them and proves them by ingestion."""
    p = make_file("later.bin", 3000)
    first = client.files.upload(dataset, p, ingest=False)
    assert not first.get("storage_path")
    seen: list[int] = []
    again = client.files.upload(dataset, p, progress=seen.append)
    assert sum(seen) == 3000
    assert again["storage_path"] and again["ingestion_request"]["status"] == "complete"
    assert client.files.download(again["mfid"], tmp_path / "l").read_bytes() == p.read_bytes()
