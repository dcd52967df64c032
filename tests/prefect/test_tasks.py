"""Every task, run inside flows against the local Crucible server and a real Prefect API."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest
from prefect import flow, unmapped

import crucible_prefect as cp
from crucible_prefect import CrucibleCredentials

pytestmark = pytest.mark.prefect


def _files(tmp_path: Path, n: int = 2) -> list[str]:
    paths = []
    for i in range(n):
        p = tmp_path / "run" / f"scan-{i}.csv"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"x,y\n{i},{i * i}\n" + "z" * (1000 + i))
        paths.append(str(p))
    return paths


def test_datasets_samples_metadata_links(crucible_credentials, crucible_user):
    tag = uuid.uuid4().hex[:8]

    @flow
    def catalogue(credentials: CrucibleCredentials) -> dict:
        ds = cp.create_dataset({"dataset_name": f"scan {tag}", "project_id": crucible_user.project_id,
                                "measurement": f"m-{tag}"},
                               scientific_metadata={"beam": {"energy_kev": 10}},
                               keywords=["xrd", f"k{tag}"], credentials=credentials)
        child = cp.create_dataset({"dataset_name": f"reduced {tag}",
                                   "project_id": crucible_user.project_id,
                                   "measurement": f"m-{tag}"}, credentials=credentials)
        smp = cp.create_sample({"sample_name": f"wafer {tag}",
                                "project_id": crucible_user.project_id}, credentials=credentials)
        dsid, cid, sid = ds["unique_id"], child["unique_id"], smp["unique_id"]
        return {
            "ds": ds, "child": child, "sample": smp,
            "got": cp.get_dataset(dsid, include_metadata=True, credentials=credentials),
            "updated": cp.update_dataset(dsid, {"data_format": "csv"}, credentials=credentials),
            "listed": cp.list_datasets(filters={"measurement": f"m-{tag}"}, limit=None,
                                       credentials=credentials),
            "merged": cp.update_metadata(dsid, {"beam": {"slit_mm": 0.5}},
                                         credentials=credentials),
            "keywords": cp.get_keywords(dsid, credentials=credentials),
            "sample_updated": cp.update_sample(sid, {"description": "polished"},
                                               credentials=credentials),
            "sample_got": cp.get_sample(sid, credentials=credentials),
            "added": cp.add_sample_to_dataset(dsid, sid, credentials=credentials),
            "samples_of_ds": cp.list_samples(dataset_id=dsid, credentials=credentials),
            "datasets_of_sample": cp.list_datasets(sample_id=sid, credentials=credentials),
            "removed": cp.remove_sample_from_dataset(dsid, sid, credentials=credentials),
            "removed_again": cp.remove_sample_from_dataset(dsid, sid, credentials=credentials),
            "linked": cp.link_resources(dsid, cid, credentials=credentials),
            "unlinked": cp.unlink_resources(cid, dsid, credentials=credentials),
            "unlinked_again": cp.unlink_resources(dsid, cid, credentials=credentials),
            "replaced": cp.replace_metadata(dsid, {"only": 1}, credentials=credentials),
            "metadata": cp.get_metadata(dsid, credentials=credentials),
        }

    out = catalogue(crucible_credentials)
    dsid = out["ds"]["unique_id"]
    assert out["got"]["unique_id"] == dsid
    assert out["updated"]["data_format"] == "csv"
    assert {d["unique_id"] for d in out["listed"]} == {dsid, out["child"]["unique_id"]}
    assert out["merged"] == {"beam": {"energy_kev": 10, "slit_mm": 0.5}}
    assert {"xrd", f"k{tag}"} <= set(out["keywords"])
    assert out["sample_updated"]["description"] == "polished"
    assert out["sample_got"]["sample_name"] == f"wafer {tag}"
    assert [s["unique_id"] for s in out["samples_of_ds"]] == [out["sample"]["unique_id"]]
    assert [d["unique_id"] for d in out["datasets_of_sample"]] == [dsid]
    assert out["removed"]["removed"] is True and out["removed_again"]["removed"] is False
    assert out["unlinked"]["removed"] is True and out["unlinked_again"]["removed"] is False
    assert out["replaced"] == {"only": 1} == out["metadata"]
    json.dumps(out)  # every result is JSON-serializable


def test_files_ingestion_download_and_requests(crucible_credentials, crucible_user, tmp_path):
    paths = _files(tmp_path)
    sha = hashlib.sha256(Path(paths[0]).read_bytes()).hexdigest()

    @flow
    def move(credentials: str) -> dict:
        ds = cp.create_dataset({"dataset_name": "files", "project_id": crucible_user.project_id},
                               credentials=credentials)
        dsid = ds["unique_id"]
        uploaded = cp.upload_files(dsid, paths, base_dir=str(tmp_path), wait=True,
                                   credentials=credentials)
        again = cp.upload_files(dsid, paths, base_dir=str(tmp_path), credentials=credentials)
        req = cp.request_ingestion(uploaded[0]["mfid"], credentials=credentials)
        waited = cp.wait_for_ingestion(req["id"], credentials=credentials)
        return {
            "dsid": dsid, "uploaded": uploaded, "again": again, "request": req, "waited": waited,
            "found": cp.find_files_by_sha256(sha, credentials=credentials),
            "found_in_ds": cp.find_files_by_sha256(sha.upper(), dataset_id=dsid,
                                                   credentials=credentials),
            "downloaded": cp.download_dataset(dsid, str(tmp_path / "out"),
                                              credentials=credentials),
            "processing": cp.request_processing(dsid, "carrier_segmentation",
                                                credentials=credentials),
        }

    out = move("crucible-test")  # the block by name
    uploaded = out["uploaded"]
    assert [u["filename"].rsplit("/", 2)[-2:] for u in uploaded] == [
        ["run", "scan-0.csv"], ["run", "scan-1.csv"]]
    assert all(u["ingestion"]["status"] == "complete" for u in uploaded)
    assert [u["mfid"] for u in out["again"]] == [u["mfid"] for u in uploaded]  # dedup
    assert all(a["ingestion"] is None for a in out["again"])  # already ingested
    assert out["request"]["status"] == "complete" and out["waited"]["status"] == "complete"
    assert uploaded[0]["mfid"] in {f["mfid"] for f in out["found"]}
    assert [f["mfid"] for f in out["found_in_ds"]] == [uploaded[0]["mfid"]]
    got = sorted(Path(p).relative_to(tmp_path / "out" / out["dsid"]).as_posix()
                 for p in out["downloaded"])
    assert got == ["record.json", "run/scan-0.csv", "run/scan-1.csv"]
    for p in paths:
        name = Path(p).name
        assert (tmp_path / "out" / out["dsid"] / "run" / name).read_bytes() == Path(p).read_bytes()
    assert out["processing"]["status"] == "complete"


def test_request_deletion_is_filed_once(crucible_credentials, crucible_user):
    @flow
    def retire(credentials: CrucibleCredentials) -> list[dict]:
        smp = cp.create_sample({"sample_name": "retired", "project_id": crucible_user.project_id},
                               credentials=credentials)
        return [cp.request_deletion(smp["unique_id"], reason="broken", credentials=credentials)
                for _ in range(2)]

    first, second = retire(crucible_credentials)
    assert first["status"] == "pending"
    assert second["id"] == first["id"]  # the open request is reused, not filed twice


def test_bad_input_fails_clearly(crucible_credentials, tmp_path):
    one = tmp_path / "one.txt"
    one.write_text("1")
    with pytest.raises(ValueError, match="sha256"):
        cp.find_files_by_sha256.fn("abc", credentials=crucible_credentials)
    with pytest.raises(TypeError, match="list"):
        cp.upload_files.fn("x", str(one), credentials=crucible_credentials)
    with pytest.raises(FileNotFoundError, match="not regular files"):
        cp.upload_files.fn("x", ["/no/such/file"], credentials=crucible_credentials)
    with pytest.raises(ValueError, match="not inside base_dir"):
        cp.upload_files.fn("x", [str(one)], base_dir=str(tmp_path / "elsewhere"),
                           credentials=crucible_credentials)
    with pytest.raises(ValueError, match="several files"):
        cp.upload_files.fn("x", [str(one), str(one)], credentials=crucible_credentials)
    with pytest.raises(ValueError, match="request_type"):
        cp.request_processing.fn("x", "frobnicate", credentials=crucible_credentials)
    with pytest.raises(TypeError, match="credentials"):
        cp.get_dataset.fn("x", credentials=42)


def test_no_credentials_uses_the_plain_client_config(crucible_server, crucible_user, monkeypatch):
    monkeypatch.setenv("CRUCIBLE_API_URL", crucible_server.url)
    monkeypatch.setenv("CRUCIBLE_API_KEY", crucible_user.api_key)
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent")
    ds = cp.create_dataset.fn({"dataset_name": "env", "project_id": crucible_user.project_id})
    assert cp.get_dataset.fn(ds["unique_id"])["dataset_name"] == "env"
    monkeypatch.delenv("CRUCIBLE_API_KEY")
    with pytest.raises(ValueError, match="No Crucible credentials"):
        cp.get_dataset.fn(ds["unique_id"])


def test_create_outside_a_run_makes_new_ids_and_reuses_given_ones(crucible_credentials,
                                                                  crucible_user):
    body = {"dataset_name": "twice", "project_id": crucible_user.project_id}
    a = cp.create_dataset.fn(body, credentials=crucible_credentials)
    b = cp.create_dataset.fn(body, credentials=crucible_credentials)
    assert a["unique_id"] != b["unique_id"]
    again = cp.create_dataset.fn({**body, "unique_id": a["unique_id"]},
                                 credentials=crucible_credentials)
    assert again["unique_id"] == a["unique_id"]
    from crucible.errors import ConflictError

    with pytest.raises(ConflictError):  # same id, different dataset: a real clash
        cp.create_dataset.fn({"dataset_name": "other", "unique_id": a["unique_id"],
                              "project_id": crucible_user.project_id},
                             credentials=crucible_credentials)


def test_tasks_map_with_an_unmapped_block_name(crucible_credentials, crucible_user):
    @flow
    def fan_out(n: int) -> list[str]:
        made = cp.create_sample.map([{"sample_name": f"mapped {i}",
                                      "project_id": crucible_user.project_id} for i in range(n)],
                                    credentials=unmapped("crucible-test")).result()
        got = cp.get_sample.map([m["unique_id"] for m in made],
                                credentials=unmapped("crucible-test")).result()
        return [g["sample_name"] for g in got]

    assert fan_out(4) == [f"mapped {i}" for i in range(4)]
