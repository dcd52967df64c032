"""The ingest flow against the real local Crucible server and a real Prefect API.

Every test ingests its own run folder (unique names), so tests share one server and one project.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from pathlib import Path

import pytest

from crucible.mirror.testing import s3_bucket, s3_endpoint  # noqa: F401  (fixtures)

pytestmark = pytest.mark.prefect

INSTRUMENT = "IngestScope"


def write_run(root: Path, files: dict[str, bytes], *, age: float = 3600.0) -> Path:
    """A run folder with ``files`` whose mtimes are ``age`` seconds in the past."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        t = time.time() - age
        os.utime(path, (t, t))
    return root


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def admin(crucible_server):
    from crucible import CrucibleClient

    client = CrucibleClient(api_url=crucible_server.url, api_key=crucible_server.admin_key)
    if not client.instruments.get(instrument_name=INSTRUMENT):
        client.instruments.create({"instrument_name": INSTRUMENT, "owner": "Test facility",
                                   "location": "Lab 1"})
    yield client
    client.close()


@pytest.fixture()
def user_client(crucible_credentials):
    return crucible_credentials.get_client()


@pytest.fixture(autouse=True)
def private_digest_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CRUCIBLE_PREFECT_CACHE_DIR", str(tmp_path / "digest-cache"))


@pytest.fixture()
def ingest(crucible_credentials, crucible_user, admin):
    """Run the flow with the test project/instrument; returns (state, report)."""
    from crucible_prefect.flows.ingest import ingest_instrument_output, report_from_state

    def run(path, **kwargs):
        params = dict(path=str(path), instrument_name=INSTRUMENT,
                      project_id=crucible_user.project_id, settle_seconds=0,
                      credentials=crucible_credentials)
        params.update(kwargs)
        state = ingest_instrument_output(**params, return_state=True)
        return state, report_from_state(state)

    return run


def run_datasets(client, run: str) -> list[dict]:
    return client.datasets.list(limit=None, session_name=run, include_metadata=True)


def files_of(client, dsid: str) -> dict[str, dict]:
    return {f["sha256_hash"]: f for f in client.files.list(dataset_id=dsid, limit=None)}


def unique_run(tmp_path: Path, prefix: str = "run") -> Path:
    return tmp_path / f"{prefix}-{uuid.uuid4().hex[:8]}"


SESSION_FILES = {
    "scan_001.ser": b"S" * 5000,
    "scan_001.emi": b"E" * 700,
    "scan_001.json": json.dumps({"beam": {"kv": 300}}).encode(),
    "scan_002.ser": b"T" * 3000,
    "scan_002.emi": b"F" * 600,
    "sub dir/ü image..1.png": b"P" * 1234,
}


def test_session_mode_parent_children_metadata_links(ingest, user_client, crucible_user, tmp_path):
    sample = user_client.samples.create(sample_name=f"s-{uuid.uuid4().hex[:6]}",
                                        project_id=crucible_user.project_id)
    root = write_run(unique_run(tmp_path), SESSION_FILES)
    state, report = ingest(root, mode="session", keywords=["tem", "demo"],
                           scientific_metadata={"operator": "ada"},
                           sample_ids=[sample["unique_id"]],
                           post_processing=["carrier_segmentation"])
    assert state.is_completed(), report.summary()
    assert report.count("ingested") == len(SESSION_FILES)
    parent = report.parent_dataset_id
    assert parent and report.datasets[0] == parent and len(report.datasets) == 4
    assert set(report.created) == set(report.datasets)

    children = {d["unique_id"]: d for d in user_client.datasets.list_children(parent, limit=None)}
    assert set(children) == set(report.datasets[1:])
    by_name = {d["dataset_name"]: d for d in children.values()}
    assert set(by_name) == {"scan_001.ser", "scan_002.ser", "sub dir/ü image..1.png"}
    scan1 = by_name["scan_001.ser"]["unique_id"]
    assert set(files_of(user_client, scan1)) == {sha(SESSION_FILES[r]) for r in
                                                  ("scan_001.ser", "scan_001.emi", "scan_001.json")}
    assert all(f["storage_path"] for f in files_of(user_client, scan1).values())
    meta = user_client.datasets.get_scientific_metadata(scan1)
    assert meta["beam"] == {"kv": 300} and meta["operator"] == "ada" and meta["ingest"]["complete"]
    kws = {k["keyword"] if isinstance(k, dict) else k for k in user_client.datasets.get_keywords(scan1)}
    assert {"tem", "demo"} <= kws
    linked = {s["unique_id"] for s in user_client.datasets.list_samples(scan1, limit=None)}
    assert sample["unique_id"] in linked
    assert [p["status"] for p in report.post_processing] == ["complete"] * 3
    assert all(d["session_name"] == root.name for d in run_datasets(user_client, root.name))


def test_files_mode_groups_companions_and_single_mode_holds_all(ingest, user_client, tmp_path):
    root = write_run(unique_run(tmp_path), SESSION_FILES)
    state, report = ingest(root, mode="files")
    assert state.is_completed(), report.summary()
    assert report.parent_dataset_id is None and len(report.datasets) == 3
    datasets = run_datasets(user_client, root.name)
    assert sorted(len(files_of(user_client, d["unique_id"])) for d in datasets) == [1, 2, 3]

    root2 = write_run(unique_run(tmp_path, "single"), SESSION_FILES)
    state, report = ingest(root2, mode="single")
    assert state.is_completed(), report.summary()
    (only,) = run_datasets(user_client, root2.name)
    assert set(files_of(user_client, only["unique_id"])) == {sha(d) for d in SESSION_FILES.values()}
    assert report.datasets == [only["unique_id"]]
    meta = user_client.datasets.get_scientific_metadata(only["unique_id"])
    assert meta["groups"]["scan_001"] == {"beam": {"kv": 300}}


def test_none_means_default_for_templated_parameters(ingest, user_client, tmp_path):
    root = write_run(unique_run(tmp_path), {"a.ser": b"a", "a.emi": b"b"})
    state, report = ingest(root, mode=None, grouping=None, settle_seconds=None,
                           max_concurrency=None, digest_cache=None, extractors=None)
    assert state.is_completed(), report.summary()
    assert report.mode == "session" and len(report.datasets) == 2  # parent + one a.* group


def test_include_exclude_and_file_grouping(ingest, user_client, tmp_path):
    root = write_run(unique_run(tmp_path), SESSION_FILES)
    state, report = ingest(root, mode="files", include=["*.ser", "*.emi"], exclude=["scan_002*"],
                           grouping="file")
    assert state.is_completed(), report.summary()
    assert sorted(r.file for r in report.files) == ["scan_001.emi", "scan_001.ser"]
    assert len(run_datasets(user_client, root.name)) == 2


def test_rerun_creates_and_uploads_nothing(ingest, user_client, tmp_path):
    root = write_run(unique_run(tmp_path), SESSION_FILES)
    _, first = ingest(root, mode="session")
    before = {d["unique_id"]: d["modification_time"] for d in run_datasets(user_client, root.name)}
    for cache in (True, False):  # with the digest ledger (one listing) and without (GET per group)
        state, again = ingest(root, mode="session", digest_cache=cache)
        assert state.is_completed(), again.summary()
        assert again.created == [] and set(again.datasets) == set(first.datasets)
        assert {r.status for r in again.files} == {"exists"}
    after = {d["unique_id"]: d["modification_time"] for d in run_datasets(user_client, root.name)}
    assert after == before


def test_files_still_being_written_are_held_back(ingest, user_client, tmp_path):
    root = write_run(unique_run(tmp_path), {"old.dat": b"o" * 100, "new.ser": b"n" * 10})
    write_run(root, {"new.emi": b"e" * 10}, age=0)  # its companion is still being written
    state, report = ingest(root, mode="files", settle_seconds=30)
    assert not state.is_completed() and state.name == "Incomplete"
    held = {r.file for r in report.held}
    assert held == {"new.ser", "new.emi"} and "still being written" in report.held[0].reason
    assert [r.file for r in report.files if r.status == "ingested"] == ["old.dat"]
    write_run(root, {"new.emi": b"e" * 10})  # finished writing long ago
    state, report = ingest(root, mode="files", settle_seconds=30)
    assert state.is_completed(), report.summary()
    assert {r.file: r.status for r in report.files} == {
        "old.dat": "exists", "new.ser": "ingested", "new.emi": "ingested"}


def test_failed_files_fail_the_run_and_the_rest_lands(ingest, user_client, tmp_path):
    root = write_run(unique_run(tmp_path), {"good.dat": b"g" * 50, "empty.dat": b""})
    os.symlink(root / "missing-target", root / "broken.dat")
    state, report = ingest(root, mode="files")
    assert state.is_failed()
    status = {r.file: (r.status, r.reason) for r in report.files}
    assert status["good.dat"][0] == "ingested"
    assert status["broken.dat"][0] == "failed" and "unreadable" in status["broken.dat"][1]
    assert status["empty.dat"] == ("skipped", "zero-byte file")
    assert len(run_datasets(user_client, root.name)) == 1


def test_failed_ingestion_is_reported_then_finished_by_a_rerun(ingest, user_client, tmp_path):
    root = write_run(unique_run(tmp_path), {"a.dat": b"a" * 10, "b.dat": b"b" * 20})
    state, report = ingest(root, mode="files", ingestor="FailingIngestor")
    assert state.is_failed()
    assert {r.status for r in report.files} == {"failed"}
    assert all("ingestion failed" in r.reason for r in report.files)
    state, report = ingest(root, mode="files")
    assert state.is_completed(), report.summary()
    datasets = run_datasets(user_client, root.name)
    assert len(datasets) == 2 and report.created == []
    for d in datasets:
        (f,) = files_of(user_client, d["unique_id"]).values()
        assert f["storage_path"]


@pytest.mark.parametrize("case", ["missing", "empty", "instrument", "project", "extractor",
                                  "ingestor", "post_processing", "key"])
def test_bad_input_is_a_clear_failure_and_creates_nothing(case, ingest, crucible_server, user_client,
                                                          tmp_path):
    from crucible_prefect.credentials import CrucibleCredentials

    root = write_run(unique_run(tmp_path), {"a.dat": b"abc"})
    kwargs, expected = {}, ""
    if case == "missing":
        kwargs, expected = {"path": str(root / "nope")}, "does not exist"
    elif case == "empty":
        root = unique_run(tmp_path)
        root.mkdir()
        kwargs, expected = {"path": str(root)}, "no files to ingest"
    elif case == "instrument":
        kwargs, expected = {"instrument_name": "NoSuchScope"}, "unknown instrument"
    elif case == "project":
        key = crucible_server.add_user("0000-0001-0000-0009", projects=["OTHERPROJ"])
        kwargs = {"credentials": CrucibleCredentials(api_url=crucible_server.url, api_key=key)}
        expected = "not a member of project"
    elif case == "extractor":
        kwargs, expected = {"extractors": ["no_such_module:fn"]}, "cannot be imported"
    elif case == "key":
        kwargs = {"credentials": CrucibleCredentials(api_url=crucible_server.url, api_key="wrong")}
        expected = "401"
    elif case == "ingestor":
        kwargs, expected = {"ingestor": "NoSuchIngestor"}, "unknown ingestor"
    elif case == "post_processing":
        kwargs, expected = {"post_processing": ["make_coffee"]}, "unknown post_processing"
    path = kwargs.pop("path", root)
    state, report = ingest(path, **kwargs)
    assert state.is_failed()
    assert expected in " ".join(report.errors)
    assert run_datasets(user_client, Path(path).name) == []


def test_fsspec_memory_url(ingest, user_client):
    import fsspec

    run = f"mem-{uuid.uuid4().hex[:8]}"
    fs = fsspec.filesystem("memory")
    fs.pipe(f"/inst/{run}/x.ser", b"X" * 300)
    fs.pipe(f"/inst/{run}/x.emi", b"Y" * 30)
    try:
        state, report = ingest(f"memory://inst/{run}", mode="files")
    finally:
        fs.rm(f"/inst/{run}", recursive=True)
    assert state.is_completed(), report.summary()
    (only,) = run_datasets(user_client, run)
    assert set(files_of(user_client, only["unique_id"])) == {sha(b"X" * 300), sha(b"Y" * 30)}


@pytest.mark.parametrize("seed", [7, 12])
def test_fault_injection_with_lost_responses_yields_exactly_one_dataset_per_group(
        seed, ingest, crucible_server, user_client, tmp_path):
    files = {f"g{i:02d}.dat": os.urandom(2000 + i) for i in range(12)}
    files["g00.emi"] = b"companion"
    root = write_run(unique_run(tmp_path), files)
    crucible_server.set_faults(0.2, seed=seed)
    try:
        state, report = ingest(root, mode="files", max_concurrency=4)
        if not state.is_completed():  # something outlasted every retry: a re-run finishes it
            state, report = ingest(root, mode="files", max_concurrency=4)
    finally:
        crucible_server.set_faults(0.0)
    assert state.is_completed(), report.summary()
    datasets = run_datasets(user_client, root.name)
    assert len(datasets) == 12
    expected = {sha(d) for d in files.values()}
    stored = {}
    for d in datasets:
        stored.update(files_of(user_client, d["unique_id"]))
    assert set(stored) == expected
    assert all(f["storage_path"] and f["size"] for f in stored.values())


def test_artifacts_are_published(ingest, tmp_path, prefect_backend):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    root = write_run(unique_run(tmp_path), {"a.dat": b"a"})
    state, report = ingest(root, mode="files")
    assert state.is_completed()
    from crucible_prefect.artifacts import artifact_key

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[artifact_key("ingest", root.name)])))
    assert arts and arts[0].type == "table"
    assert "a.dat" in str(arts[0].data)


def test_sample_rules_are_handed_to_the_link_flow(ingest, user_client, crucible_user, tmp_path):
    name = f"TF-{uuid.uuid4().hex[:6]}"
    sample = user_client.samples.create(sample_name=name, project_id=crucible_user.project_id)
    root = write_run(unique_run(tmp_path), {f"{name}_scan.dat": b"d" * 10, "other.dat": b"o"})
    rules = [{"kind": "regex", "pattern": r"^(?P<sample>TF-[0-9a-f]+)_"}]
    state, report = ingest(root, mode="files", sample_rules=rules)
    assert state.is_completed(), (report.summary(), report.errors)
    by_name = {d["dataset_name"]: d["unique_id"] for d in run_datasets(user_client, root.name)}
    linked = {s["unique_id"] for s in user_client.datasets.list_samples(by_name[f"{name}_scan.dat"])}
    assert linked == {sample["unique_id"]}
    assert user_client.datasets.list_samples(by_name["other.dat"]) == []
    assert report.sample_links is not None


def test_a_direct_call_raises_with_the_report(crucible_credentials, crucible_user, admin, tmp_path):
    from crucible_prefect.flows.ingest import IngestFailed, ingest_instrument_output

    with pytest.raises(IngestFailed) as info:
        ingest_instrument_output(path=str(tmp_path / "absent"), instrument_name=INSTRUMENT,
                                 project_id=crucible_user.project_id,
                                 credentials=crucible_credentials)
    assert "does not exist" in info.value.report.errors[0]


def test_s3_source_via_fsspec(ingest, user_client, s3_endpoint, s3_bucket):
    import fsspec

    from crucible.mirror.testing import s3_storage_options

    options = s3_storage_options(s3_endpoint)
    run = f"s3run-{uuid.uuid4().hex[:8]}"
    fs = fsspec.filesystem("s3", **options)
    data = {"a.ser": os.urandom(70_000), "a.emi": b"companion", "b c.dat": b"x" * 5}
    for rel, blob in data.items():
        fs.pipe(f"{s3_bucket}/{run}/{rel}", blob)
    from prefect.blocks.system import Secret

    secret_name = f"s3-{run}"
    Secret(value={"key": options["key"], "secret": options["secret"]}).save(secret_name)
    public = {k: v for k, v in options.items() if k not in ("key", "secret")}
    state, report = ingest(f"s3://{s3_bucket}/{run}", mode="files", storage_options=public,
                           storage_secret=secret_name)
    assert state.is_completed(), report.summary()
    stored = {}
    for d in run_datasets(user_client, run):
        stored.update(files_of(user_client, d["unique_id"]))
    assert set(stored) == {sha(b) for b in data.values()} and len(report.datasets) == 2
    state, again = ingest(f"s3://{s3_bucket}/{run}", mode="files", storage_options=public,
                          storage_secret=secret_name)
    assert state.is_completed() and again.created == [] and again.count("exists") == 3


def test_named_global_concurrency_limit_is_held_and_released(ingest, user_client, tmp_path,
                                                              prefect_backend, monkeypatch):
    """Each unit runs holding a slot of the named limit (an extractor, which runs inside the unit,
    reads the limit's active slots from the Prefect API and stores them as metadata), and no
    slot is held after the run."""
    import sys
    import types

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    name = f"ingest-test-{uuid.uuid4().hex[:6]}"

    def slots_probe(group, fs) -> dict:
        with get_client(sync_client=True) as client:
            return {"probe": {"active_slots": client.read_global_concurrency_limit_by_name(name).active_slots}}

    probe_module = types.ModuleType("_crucible_slot_probe")
    probe_module.slots_probe = slots_probe  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "_crucible_slot_probe", probe_module)
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
    root = write_run(unique_run(tmp_path), {f"f{i}.dat": bytes([i]) * 100 for i in range(6)})
    try:
        state, report = ingest(root, mode="files", max_concurrency=4, concurrency_limit=name,
                               extractors=["_crucible_slot_probe:slots_probe"])
        with get_client(sync_client=True) as client:
            after = client.read_global_concurrency_limit_by_name(name).active_slots
    finally:
        with get_client(sync_client=True) as client:
            client.delete_global_concurrency_limit_by_name(name)
    assert state.is_completed(), report.summary()
    datasets = run_datasets(user_client, root.name)
    assert len(datasets) == 6
    seen = [user_client.datasets.get_scientific_metadata(d["unique_id"])["probe"]["active_slots"]
            for d in datasets]
    assert seen == [1] * 6  # held while each unit ran (0 if the runner took no slot)
    assert after == 0


def test_rerun_leaves_complete_datasets_alone_and_an_unknown_limit_is_ignored(
        ingest, user_client, tmp_path):
    """docs/ingest.md: changing keywords on a re-run does not update complete datasets; a
    concurrency_limit that does not exist is ignored (the run still completes)."""
    root = write_run(unique_run(tmp_path), {"one.dat": b"1" * 50})
    state, first = ingest(root, mode="files", keywords=["first"])
    assert state.is_completed(), first.summary()
    state, again = ingest(root, mode="files", keywords=["second"],
                          concurrency_limit=f"no-such-limit-{uuid.uuid4().hex[:6]}")
    assert state.is_completed() and again.count("exists") == 1 and again.created == []
    [dsid] = first.datasets
    words = {k["keyword"] if isinstance(k, dict) else k for k in user_client.datasets.get_keywords(dsid)}
    assert "first" in words and "second" not in words


def test_secrets_in_storage_options_or_the_path_are_refused(ingest, user_client, tmp_path):
    """docs/ingest.md: flow parameters are shown in the Prefect UI, so a secret-named option (at
    any depth) or a password in the path URL fails the run before anything is read or made."""
    root = write_run(unique_run(tmp_path), {"one.dat": b"1"})
    state, report = ingest(root, storage_options={"client_kwargs": {"aws_secret_access_key": "s"}})
    assert state.is_failed() and "'client_kwargs.aws_secret_access_key'" in report.errors[0]
    assert "storage_secret" in report.errors[0]
    state, report = ingest(f"sftp://u:hunter2@127.0.0.1:1/{root.name}")
    assert state.is_failed() and "path URL holds a password" in report.errors[0]
    assert run_datasets(user_client, root.name) == []


def test_a_failing_extractor_fails_its_group_and_creates_nothing_for_it(ingest, user_client,
                                                                          tmp_path):
    root = write_run(unique_run(tmp_path), {"a.ser": b"a", "a.json": b"{broken", "b.dat": b"b"})
    state, report = ingest(root, mode="session")
    assert state.is_failed()
    status = {r.file: r for r in report.files}
    assert status["a.ser"].status == "failed" and "not valid JSON" in status["a.ser"].reason
    assert status["b.dat"].status == "ingested"
    names = sorted(d["dataset_name"] for d in run_datasets(user_client, root.name))
    assert names == ["IngestScope session: " + root.name, "b.dat"]


def test_unit_tasks_carry_the_crucible_tag_only_when_a_tag_limit_exists(prefect_backend):
    from prefect.client.orchestration import get_client

    from crucible_prefect.runners import tag_limit_exists

    tag = f"ingest-tag-{uuid.uuid4().hex[:6]}"
    assert not tag_limit_exists(tag)
    with get_client(sync_client=True) as client:
        client.create_concurrency_limit(tag=tag, concurrency_limit=2)
        try:
            assert tag_limit_exists(tag)
        finally:
            client.delete_concurrency_limit_by_tag(tag)
    assert not tag_limit_exists(tag)
