"""The ``mirror_downloads`` flow on a real Prefect API: artifacts, failure state, blocks, and a
mirror killed (SIGKILL) midway then resumed without re-downloading what finished."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from crucible.mirror.destination import Destination, open_destination
from crucible.mirror.manifest import Manifest
from crucible.mirror.testing import s3_bucket, s3_endpoint, s3_storage_options  # noqa: F401

pytestmark = pytest.mark.prefect
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def client(crucible_server, crucible_user):
    from crucible import CrucibleClient

    with CrucibleClient(crucible_server.url, crucible_user.api_key) as c:
        yield c


def make_dataset(client, tmp_path: Path, project: str, files: dict[str, bytes]) -> str:
    from crucible.mfid import new_mfid

    dsid = new_mfid()
    client.datasets.create({"unique_id": dsid, "dataset_name": f"flow {dsid}", "project_id": project})
    for rel, body in files.items():
        local = tmp_path / dsid / rel
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(body)
        client.datasets.upload_file(dsid, local, relative_path=rel, wait=True, timeout=60)
    return dsid


def artifacts_of(flow_run_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as pc:
        return pc.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))


def test_flow_mirrors_and_publishes_artifacts(client, crucible_credentials, crucible_user, tmp_path):
    from crucible_prefect.flows.mirror import mirror_downloads

    files = {"one.bin": os.urandom(70_000), "sub/two.bin": os.urandom(1000)}
    dsid = make_dataset(client, tmp_path, crucible_user.project_id, files)
    url = f"memory://flow-{uuid.uuid4().hex[:8]}"
    state = mirror_downloads(url, [dsid], credentials=crucible_credentials, return_state=True)
    assert state.is_completed(), state.message
    summary = state.result().summary()
    assert summary["counts"] == {"copied": 3} and summary["bytes_copied"] > 71_000
    dest = open_destination(url)
    assert dest.fs.cat_file(dest.path(f"{crucible_user.project_id}/{dsid}/sub/two.bin")) == files["sub/two.bin"]
    kinds = {a.type: a for a in artifacts_of(state.state_details.flow_run_id)}
    assert {"table", "markdown"} <= set(kinds) <= {"table", "markdown", "progress"}
    table = kinds["table"].data if isinstance(kinds["table"].data, list) else json.loads(kinds["table"].data)
    assert sorted(r["status"] for r in table) == ["copied"] * 3
    # the block name works as well as a block; a re-run moves nothing and publishes no
    # artifact (those under the key still show the run that copied; the state says "skipped")
    again_state = mirror_downloads(url, [dsid], credentials="crucible-test", return_state=True)
    again = again_state.result().summary()
    assert again["counts"] == {"skipped": 3} and again["bytes_copied"] == 0
    assert {a.type for a in artifacts_of(again_state.state_details.flow_run_id)} <= {"progress"}
    assert "3 skipped" in again_state.message


def test_flow_fails_when_a_file_fails_but_mirrors_the_rest(client, crucible_server, crucible_credentials,
                                                          crucible_user, tmp_path):
    from crucible_prefect.flows.mirror import MirrorFailed, mirror_downloads

    dsid = make_dataset(client, tmp_path, crucible_user.project_id, {"ok.bin": b"ok" * 10, "bad.bin": b"b" * 64})
    row = next(r for r in client.files.list(dataset_id=dsid) if r["filename"].endswith("bad.bin"))
    crucible_server.stored_file_path(row["mfid"]).write_bytes(b"B" * 64)
    state = mirror_downloads(f"file://{tmp_path}/out", [dsid], credentials=crucible_credentials,
                             return_state=True)
    assert state.is_failed()
    with pytest.raises(MirrorFailed, match="1 failed"):
        state.result()
    base = tmp_path / "out" / crucible_user.project_id / dsid
    assert (base / "ok.bin").read_bytes() == b"ok" * 10 and not (base / "bad.bin").exists()
    table = next(a for a in artifacts_of(state.state_details.flow_run_id) if a.type == "table")
    rows = table.data if isinstance(table.data, list) else json.loads(table.data)
    assert rows[0]["status"] == "failed" and "ChecksumMismatch" in rows[0]["error"]
    assert "sig=" not in json.dumps(rows)


def test_flow_writes_to_a_remote_file_system_block(client, crucible_credentials, crucible_user, tmp_path):
    from prefect.filesystems import RemoteFileSystem

    from crucible_prefect.flows.mirror import mirror_downloads

    dsid = make_dataset(client, tmp_path, crucible_user.project_id, {"b.txt": b"block"})
    name = f"mirror-dest-{uuid.uuid4().hex[:8]}"
    RemoteFileSystem(basepath=f"memory://{name}/data").save(name)  # file:// is not accepted there
    summary = mirror_downloads(destination_block=name, dataset_ids=[dsid], credentials=crucible_credentials,
                               layout="{dataset_id}/{filename}", record_layout=None).summary()
    assert summary["counts"] == {"copied": 1}
    dest = open_destination(f"memory://{name}/data")
    assert dest.fs.cat_file(dest.path(f"{dsid}/b.txt")) == b"block"


def test_flow_rejects_bad_input_before_touching_anything(crucible_credentials):
    from crucible_prefect.flows.mirror import mirror_downloads

    with pytest.raises(ValueError, match="exactly one"):
        mirror_downloads(dataset_ids=["x"], credentials=crucible_credentials)
    with pytest.raises(ValueError, match="layout template"):
        mirror_downloads("memory://x", ["x"], layout="{secret}/{relative_path}",
                         credentials=crucible_credentials)


# -- secrets: only from a Secret block ---------------------------------------------------------
@pytest.fixture
def no_ambient_aws_credentials(monkeypatch, tmp_path):
    """botocore finds no key in the environment, ~/.aws or an instance role."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _bucket_keys(endpoint: str, bucket: str) -> list[str]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-east-1")
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_s3_keys_from_a_secret_block_only(client, crucible_credentials, crucible_user, tmp_path,
                                          s3_endpoint, s3_bucket, no_ambient_aws_credentials):  # noqa: F811
    """No key anywhere but a saved Secret block: without it the run fails, with it the files land,
    and the flow run's stored parameters hold only the block's name."""
    from prefect.blocks.system import Secret
    from prefect.client.orchestration import get_client

    from crucible_prefect.flows.mirror import mirror_downloads

    dsid = make_dataset(client, tmp_path, crucible_user.project_id, {"a.bin": os.urandom(3000)})
    public = {k: v for k, v in s3_storage_options(s3_endpoint).items() if k not in ("key", "secret")}
    secret_name = f"s3-keys-{uuid.uuid4().hex[:8]}"
    Secret(value={"key": "AKIA-FROM-THE-BLOCK", "secret": "s3cr3t-from-the-block"}).save(secret_name)
    url = f"s3://{s3_bucket}/m"
    kwargs = dict(dataset_ids=[dsid], storage_options=public, layout="{dataset_id}/{relative_path}",
                  record_layout=None, credentials=crucible_credentials, return_state=True)
    without = mirror_downloads(url, **kwargs)
    assert not without.is_completed()
    assert "credentials" in (without.message or "").lower(), without.message
    assert _bucket_keys(s3_endpoint, s3_bucket) == []
    state = mirror_downloads(url, storage_secret=secret_name, **kwargs)
    assert state.is_completed(), state.message
    assert state.result().summary()["counts"] == {"copied": 1}
    assert f"m/{dsid}/a.bin" in _bucket_keys(s3_endpoint, s3_bucket)
    with get_client(sync_client=True) as pc:
        stored = pc.read_flow_run(state.state_details.flow_run_id).parameters
    assert stored["storage_secret"] == secret_name
    assert "FROM-THE-BLOCK" not in json.dumps(stored) and "s3cr3t" not in json.dumps(stored)


@pytest.mark.parametrize("options", [
    {"key": "AKIA", "secret": "plain"},
    {"client_kwargs": {"aws_secret_access_key": "plain", "region_name": "us-east-1"}},
    {"account_key": "plain"},
])
def test_plain_secrets_in_storage_options_are_refused(options, crucible_credentials, tmp_path):
    """Secret-named options (any depth) stop the run before anything is read or written."""
    from crucible_prefect.flows.mirror import mirror_downloads

    with pytest.raises(ValueError, match="storage_options hold secrets.*storage_secret"):
        mirror_downloads(f"file://{tmp_path}/out", ["x"], storage_options=options,
                         credentials=crucible_credentials)
    with pytest.raises(ValueError, match="destination URL holds a password"):
        mirror_downloads("sftp://u:pw@127.0.0.1:1/out", ["x"], credentials=crucible_credentials)
    assert not (tmp_path / "out").exists()


# -- killed midway, then resumed -------------------------------------------------------------
KILLABLE = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {repo!r})
    import crucible.mirror.fetch as fetch
    from crucible import CrucibleClient
    from crucible.transfer import copy_url, stream_url
    from crucible.mirror import CrucibleSource, Mirror, MirrorOptions, open_destination

    finished = 0

    def copy_then_hang(url, dest, **kw):
        # after {stop_after} files, the next one hangs mid-stream until this process is killed
        global finished
        if finished >= {stop_after}:
            for chunk in stream_url(url):
                dest.write(chunk)
                print("HANGING", flush=True)
                time.sleep(3600)
        result = copy_url(url, dest, **kw)
        finished += 1
        return result

    fetch.copy_url = copy_then_hang
    client = CrucibleClient({api_url!r}, sys.stdin.readline().strip())
    dest = open_destination({dest!r})
    with Mirror(CrucibleSource(client), dest, MirrorOptions(max_concurrency=1)) as mirror:
        mirror.dataset({dsid!r})
""")


def test_killed_mirror_resumes_without_redownloading(client, crucible_server, crucible_user,
                                                     crucible_credentials, tmp_path):
    from crucible_prefect.flows.mirror import mirror_downloads

    files = {f"part{i:02d}.bin": os.urandom(120_000 + i) for i in range(8)}
    dsid = make_dataset(client, tmp_path, crucible_user.project_id, files)
    url = f"file://{tmp_path}/resume"
    script = KILLABLE.format(repo=str(REPO), stop_after=3, api_url=crucible_server.url, dest=url, dsid=dsid)
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.stdin.write(crucible_user.api_key + "\n")  # the key never goes on a command line
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line.strip() == "HANGING", proc.stderr.read()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the journal flushes at least every second
            done = Manifest(open_destination(url)).load()
            done._stop.set()
            if len(done.entries) == 3:
                break
            time.sleep(0.2)
        assert len(done.entries) == 3
        finished = {path.rsplit("/", 1)[-1] for path in done.entries}
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    root = tmp_path / "resume" / crucible_user.project_id / dsid
    assert [p.name for p in root.iterdir() if "crucible-partial" in p.name], "no partial file in flight"
    assert len([p for p in root.iterdir() if p.name.startswith("part")]) == 3

    summary = mirror_downloads(url, [dsid], credentials=crucible_credentials).summary()
    assert summary["counts"] == {"skipped": 3, "copied": 6}  # 5 data files + record.json
    unfinished = sum(len(v) for k, v in files.items() if k not in finished)
    assert summary["bytes_copied"] == unfinished + (root / "record.json").stat().st_size
    assert sorted(p.name for p in root.iterdir()) == sorted([*files, "record.json"])
    for name, body in files.items():
        assert hashlib.sha256((root / name).read_bytes()).digest() == hashlib.sha256(body).digest()
    final = Manifest(Destination(fs=open_destination(url).fs, root=str(tmp_path / "resume"))).load()
    final._stop.set()
    assert len(final.entries) == 9
