"""Create a dataset with nano-crucible 3.3.0, upload a file, wait for ingestion, read it back.

3.3.0 takes its resumable path (`/upload/initiate`, chunk PUTs with Content-Range, `complete`)
when asked for `multipart=False`; the traces prove that is what went over the wire.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.compat

MIB = 1024 * 1024
BIG_SIZE = 32 * MIB + 123_457  # the client's smallest chunk is 32 MiB: this needs two PUTs


@pytest.fixture(scope="module")
def uploaded(nano, crucible_user, tmp_path_factory):
    """One dataset made by nano-crucible, with metadata, keywords and an ingested 2-chunk file."""
    src = tmp_path_factory.mktemp("nano-src")
    data = src / "scan_0001.bin"
    data.write_bytes(os.urandom(BIG_SIZE))
    tag = uuid.uuid4().hex[:8]
    created = nano.call(
        "datasets.create",
        {"$model": "Dataset", "dataset_name": f"compat scan {tag}",
         "project_id": crucible_user.project_id, "measurement": "compat-xrd",
         "session_name": f"compat-{tag}", "data_format": "bin"},
        scientific_metadata={"beam": {"energy_kev": 12.4, "slits": [1, 2]}, "operator": "nano"},
        keywords=["Perovskite", f"compat-{tag}"])
    create_trace = nano.last_trace
    dsid = created["dataset_mfid"]
    added = nano.call("datasets.add_file", dsid, str(data), multipart=False,
                      wait_for_ingestion_response=True)
    return {"dsid": dsid, "tag": tag, "path": data, "created": created,
            "create_trace": create_trace, "added": added, "add_trace": nano.last_trace}


def test_create_posts_a_client_made_id_then_metadata_and_keywords(uploaded, crucible_user, nano):
    created, trace = uploaded["created"], uploaded["create_trace"]

    record = created["created_record"]
    assert record["unique_id"] == uploaded["dsid"] and len(uploaded["dsid"]) == 26
    assert record["owner_orcid"] == crucible_user.orcid
    assert record["project_id"] == crucible_user.project_id
    assert record["measurement"] == "compat-xrd"
    assert created["scientific_metadata_record"]["scientific_metadata"]["beam"]["energy_kev"] == 12.4
    [post] = nano.requests_to(trace, "POST", "/datasets")
    assert post["status"] == 200
    assert len(nano.requests_to(trace, "PATCH", f"/resources/{uploaded['dsid']}/metadata")) == 1
    keyword_posts = nano.requests_to(trace, "POST", f"/datasets/{uploaded['dsid']}/keywords")
    assert [p["query"]["keyword"] for p in keyword_posts] == ["Perovskite", f"compat-{uploaded['tag']}"]


def test_upload_takes_the_resumable_path_in_chunks(uploaded, nano):
    trace = uploaded["add_trace"]

    assert not [t for t in trace if "multipart" in t["path"]]
    [initiate] = nano.requests_to(trace, "POST", "/upload/initiate")
    assert initiate["status"] == 200
    puts = [t for t in trace if t["method"] == "PUT"]
    assert [p["content-range"] for p in puts] == [
        f"bytes 0-{32 * MIB - 1}/{BIG_SIZE}", f"bytes {32 * MIB}-{BIG_SIZE - 1}/{BIG_SIZE}"]
    assert [p["status"] for p in puts] == [308, 200]
    assert puts[0]["response_range"] == f"bytes=0-{32 * MIB - 1}"
    assert not any(p["auth"] or "response_location" in p for p in puts)
    [complete] = nano.requests_to(trace, "POST", "/upload/complete")
    assert complete["status"] == 200


def test_upload_registers_the_file_and_ingestion_completes(uploaded, nano):
    added = uploaded["added"]
    data = uploaded["path"].read_bytes()

    record = added["associated_file"]
    assert record["dataset_mfid"] == uploaded["dsid"]
    assert record["size"] == len(data)
    assert record["sha256_hash"] == hashlib.sha256(data).hexdigest()
    request = added["ingestion_request"]
    assert request["status"] == "complete"
    [ingest] = nano.requests_to(uploaded["add_trace"], "POST", f"/files/{record['mfid']}/ingest")
    assert ingest["query"]["status"] == "requested"
    assert nano.requests_to(uploaded["add_trace"], "GET", f"/ingestion_requests/{request['id']}")

    files = nano.call("datasets.list_files", uploaded["dsid"])
    assert [f["mfid"] for f in files] == [record["mfid"]]
    assert files[0]["storage_path"]  # set by ingestion; download links depend on it
    assert nano.call("ingestions.get", request["id"])["status"] == "complete"


def test_uploading_the_same_bytes_again_is_a_dedup_hit(uploaded, nano):
    again = nano.call("datasets.add_file", uploaded["dsid"], str(uploaded["path"]),
                      multipart=False)

    assert again["associated_file"]["mfid"] == uploaded["added"]["associated_file"]["mfid"]
    assert again["ingestion_request"] is None
    assert not [t for t in nano.last_trace if t["method"] == "PUT"]
    assert len(nano.call("datasets.list_files", uploaded["dsid"])) == 1


def test_dataset_download_returns_the_same_bytes_and_the_record(uploaded, nano, tmp_path):
    paths = nano.call("datasets.download", uploaded["dsid"], output_dir=str(tmp_path))

    data_files = [Path(p) for p in paths if not p.endswith("record.json")]
    assert [p.name for p in data_files] == [uploaded["path"].name]
    assert data_files[0].read_bytes() == uploaded["path"].read_bytes()
    record = (tmp_path / uploaded["dsid"] / "record.json").read_text()
    assert '"energy_kev": 12.4' in record
    [links] = nano.requests_to(nano.last_trace, "GET", f"/datasets/{uploaded['dsid']}/download_links")
    assert links["status"] == 200


def test_single_file_download_by_mfid_returns_the_same_bytes(uploaded, nano, tmp_path):
    mfid = uploaded["added"]["associated_file"]["mfid"]

    path = nano.call("files.download", mfid, output_dir=str(tmp_path))

    assert Path(path).read_bytes() == uploaded["path"].read_bytes()
    # named by `filename`, the path relative to the dataset (not the upload location)
    assert Path(path) == tmp_path / uploaded["path"].name
    assert nano.call("files.get", mfid)["filename"] == uploaded["path"].name


def test_a_small_file_uploads_in_one_put(nano, crucible_user, tmp_path):
    small = tmp_path / "notes.txt"
    small.write_bytes(b"sample notes\n" * 10)
    dsid = nano.call("datasets.create", {"$model": "Dataset", "dataset_name": "compat notes",
                                         "project_id": crucible_user.project_id})["dataset_mfid"]

    added = nano.call("datasets.add_file", dsid, str(small), multipart=False,
                      wait_for_ingestion_response=True)

    assert [p["status"] for p in nano.last_trace if p["method"] == "PUT"] == [200]
    assert added["ingestion_request"]["status"] == "complete"
    out = nano.call("files.download", added["associated_file"]["mfid"], output_dir=str(tmp_path / "out"))
    assert Path(out).read_bytes() == small.read_bytes()
