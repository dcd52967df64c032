"""Upload paths of nano-crucible 3.3.0 beyond the plain resumable one.

- `datasets.create(files=[...])` / `add_file()` with defaults use the signed multipart flow;
- `skip_ingestion=True` registers the file with `?status=not_requested` and ingests nothing;
- an empty file goes straight from `initiate` to `complete` with no PUT;
- `ingestions.list(dsid=)` filters with `dataset_mfid`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.compat

MIB = 1024 * 1024


def _dataset(nano, crucible_user, name):
    return nano.call("datasets.create", {"$model": "Dataset", "dataset_name": name,
                                         "project_id": crucible_user.project_id})["dataset_mfid"]


def test_create_with_files_uses_signed_multipart_and_round_trips(nano, crucible_user, tmp_path):
    data = tmp_path / "frames.raw"
    data.write_bytes(os.urandom(17 * MIB + 5))

    made = nano.call("datasets.create", {"$model": "Dataset", "dataset_name": "compat signed",
                                         "project_id": crucible_user.project_id},
                     files=[str(data)], wait_for_ingestion_response=True)

    trace = nano.last_trace
    [result] = made["files"]
    assert result["associated_file"]["sha256_hash"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert result["ingestion_request"]["status"] == "complete"
    assert nano.requests_to(trace, "POST", "/upload/multipart/initiate")
    assert nano.requests_to(trace, "POST", "/upload/multipart/complete")
    puts = [t for t in trace if t["method"] == "PUT"]
    assert len(puts) >= 2 and all(p["status"] == 200 and not p["auth"] for p in puts)
    assert not nano.requests_to(trace, "POST", "/upload/initiate")
    out = nano.call("datasets.download", made["dataset_mfid"], output_dir=str(tmp_path / "out"),
                    no_record=True)
    assert [Path(p).read_bytes() == data.read_bytes() for p in out] == [True]


def test_signed_multipart_dedups_a_second_upload(nano, crucible_user, tmp_path):
    dsid = _dataset(nano, crucible_user, "compat signed dedup")
    data = tmp_path / "same.bin"
    data.write_bytes(os.urandom(300_000))
    first = nano.call("datasets.add_file", dsid, str(data), wait_for_ingestion_response=True)

    again = nano.call("datasets.add_file", dsid, str(data))

    assert again["associated_file"]["mfid"] == first["associated_file"]["mfid"]
    assert again["ingestion_request"] is None
    assert not [t for t in nano.last_trace if t["method"] == "PUT"]


def test_an_empty_file_completes_without_any_put(nano, crucible_user, tmp_path):
    dsid = _dataset(nano, crucible_user, "compat empty")
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")

    added = nano.call("datasets.add_file", dsid, str(empty), multipart=False,
                      wait_for_ingestion_response=True)

    assert not [t for t in nano.last_trace if t["method"] == "PUT"]
    assert added["associated_file"]["size"] == 0
    assert added["ingestion_request"]["status"] == "complete"
    path = nano.call("files.download", added["associated_file"]["mfid"], output_dir=str(tmp_path / "o"))
    assert Path(path).read_bytes() == b""


def test_skip_ingestion_registers_without_ingesting_until_asked(nano, crucible_user, tmp_path):
    dsid = _dataset(nano, crucible_user, "compat skip")
    data = tmp_path / "later.txt"
    data.write_bytes(b"ingest me later\n")

    added = nano.call("datasets.add_file", dsid, str(data), multipart=False, skip_ingestion=True)

    [ingest] = nano.requests_to(nano.last_trace, "POST", "/ingest")
    assert ingest["query"] == {"status": "not_requested"}
    assert added["ingestion_request"]["status"] == "not_requested"
    mfid = added["associated_file"]["mfid"]
    assert nano.call("files.get", mfid)["storage_path"] is None
    done = nano.call("files.request_ingestion", mfid, wait_for_response=True)
    assert done["status"] == "complete"
    assert nano.call("files.get", mfid)["storage_path"]


def test_ingestion_list_filters_by_dataset(nano, crucible_user, tmp_path):
    mine, other = (_dataset(nano, crucible_user, f"compat ingest list {i}") for i in (1, 2))
    for dsid in (mine, other):
        data = tmp_path / f"{dsid}.txt"
        data.write_bytes(dsid.encode())
        nano.call("datasets.add_file", dsid, str(data), multipart=False,
                  wait_for_ingestion_response=True)

    listed = nano.call("ingestions.list", dsid=mine)

    assert {r["dataset_mfid"] for r in listed} == {mine}
    [request] = nano.requests_to(nano.last_trace, "GET", "/ingestion_requests")
    assert request["query"]["dataset_mfid"] == mine
