"""The mirror engine against the real local Crucible server, on file://, memory:// and S3."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import pytest
import requests

from crucible.mirror import Mirror, MirrorOptions, open_destination
from crucible.mirror.destination import Destination
from crucible.mirror.manifest import MANIFEST_NAME
from crucible.mirror.selection import CrucibleSource, Query
from crucible.mirror.testing import s3_bucket, s3_endpoint, s3_storage_options  # noqa: F401


@pytest.fixture(scope="module")
def client(crucible_server, crucible_user):
    from crucible import CrucibleClient, RetryPolicy

    with CrucibleClient(crucible_server.url, crucible_user.api_key,
                        retry=RetryPolicy(attempts=6, backoff=0.05, backoff_max=0.5)) as c:
        yield c


def make_dataset(client, tmp_path: Path, project: str, files: dict[str, bytes], **fields) -> str:
    """Create a dataset whose files have the given relative paths and contents."""
    from crucible.mfid import new_mfid

    dsid = new_mfid()
    client.datasets.create({"unique_id": dsid, "dataset_name": f"mirror {dsid}",
                            "project_id": project, **fields})
    src = tmp_path / f"src-{dsid}"
    for rel, body in files.items():
        local = src / rel
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(body)
        client.datasets.upload_file(dsid, local, relative_path=rel, wait=True, timeout=60)
    return dsid


def upload_raw(server, api_key: str, client, dsid: str, name: str, body: bytes) -> str:
    """A file whose stored name is ``name`` as given: uploaded under a harmless name, then
    renamed through the local server's test-support endpoint (our server refuses such names at
    upload; a broken or hostile server might still return them)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "harmless.bin"
        src.write_bytes(body)
        mfid = client.datasets.upload_file(dsid, src, wait=True, timeout=30)["mfid"]
    server.set_raw_file_names(mfid, filename=name, storage_path=f"mf-storage-prod/{dsid}/{name}")
    return mfid


@pytest.fixture(params=["file", "memory", "s3"])
def dest_url(request, tmp_path) -> tuple[str, dict]:
    if request.param == "file":
        return f"file://{tmp_path}/mirror", {}
    if request.param == "memory":
        return f"memory://mirror-{uuid.uuid4().hex[:8]}/root", {}
    endpoint = request.getfixturevalue("s3_endpoint")
    return f"s3://{request.getfixturevalue('s3_bucket')}/root", s3_storage_options(endpoint)


def run(client, dest_url, ids, **options):
    url, storage = dest_url
    dest = open_destination(url, storage)
    with Mirror(CrucibleSource(client), dest, MirrorOptions(**options)) as mirror:
        for dsid in ids:
            mirror.dataset(dsid)
    return mirror.report, dest


def read_tree(dest: Destination) -> dict[str, bytes]:
    fresh = Destination(fs=dest.fs, root=dest.root)
    return {p[len(fresh.root) + 1:]: fresh.fs.cat_file(p)
            for p in fresh.fs.find(fresh.root) if "/.crucible-mirror/" not in p}


def by_status(report) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in report.results:
        out.setdefault(r.status, []).append(r.path)
    return {k: sorted(v) for k, v in out.items()}


def test_mirror_then_incremental_rerun_moves_nothing(client, crucible_user, tmp_path, dest_url):
    files = {"a.bin": os.urandom(200_000), "raw/b.dat": os.urandom(3_000_001), "raw/deep/c.txt": b"c"}
    dsid = make_dataset(client, tmp_path, crucible_user.project_id, files)
    report, dest = run(client, dest_url, [dsid])
    base = f"{crucible_user.project_id}/{dsid}"
    assert not report.failed, report.failed
    assert by_status(report) == {"copied": sorted([f"{base}/{k}" for k in files] + [f"{base}/record.json"])}
    tree = read_tree(dest)
    assert {k: v for k, v in tree.items() if not k.endswith("record.json")} == \
        {f"{base}/{k}": v for k, v in files.items()}
    record = json.loads(tree[f"{base}/record.json"])
    assert record["record"]["unique_id"] == dsid
    assert sorted(f["sha256"] for f in record["files"]) == sorted(hashlib.sha256(v).hexdigest()
                                                                   for v in files.values())
    assert dest.fs.exists(dest.path(MANIFEST_NAME))

    again, _ = run(client, dest_url, [dsid])
    assert set(by_status(again)) == {"skipped"} and again.bytes_copied == 0
    # one listing per destination directory (3 data directories) plus the manifest's journal
    assert again.listing_calls <= 4


def test_changed_file_is_replaced_and_delete_extraneous(client, crucible_user, tmp_path, dest_url):
    dsid = make_dataset(client, tmp_path, crucible_user.project_id,
                        {"keep.bin": b"k" * 1000, "change.bin": b"old" * 100, "gone.bin": b"g"})
    run(client, dest_url, [dsid])
    rows = {r["filename"].rsplit("/", 1)[-1]: r for r in client.files.list(dataset_id=dsid)}
    client.files.delete(rows["change.bin"]["mfid"])
    client.files.delete(rows["gone.bin"]["mfid"])
    new = tmp_path / "new" / "change.bin"
    new.parent.mkdir()
    new.write_bytes(b"new" * 100)  # same size, other bytes: only the sha256 tells
    client.datasets.upload_file(dsid, new, wait=True, timeout=60)

    report, dest = run(client, dest_url, [dsid])
    base = f"{crucible_user.project_id}/{dsid}"
    status = by_status(report)
    assert status["copied"] == [f"{base}/change.bin", f"{base}/record.json"]
    assert status["skipped"] == [f"{base}/keep.bin"]
    assert "deleted" not in status  # off by default: the stale file stays
    assert read_tree(dest)[f"{base}/change.bin"] == b"new" * 100
    assert f"{base}/gone.bin" in read_tree(dest)

    report, dest = run(client, dest_url, [dsid], delete_extraneous=True)
    assert by_status(report)["deleted"] == [f"{base}/gone.bin"]
    assert f"{base}/gone.bin" not in read_tree(dest)
    report, _ = run(client, dest_url, [dsid], delete_extraneous=True)
    assert set(by_status(report)) == {"skipped"}


def test_hostile_paths_never_leave_the_destination(client, crucible_server, crucible_user, tmp_path):
    dsid = make_dataset(client, tmp_path, crucible_user.project_id, {"fine.txt": b"fine"})
    for name in ["../escaped.txt", "/etc/escaped.txt", "a/../../escaped.txt", "../../../../tmp/escaped.txt"]:
        upload_raw(crucible_server, crucible_user.api_key, client, dsid, name, name.encode())
    root = tmp_path / "outer" / "mirror"
    report, _ = run(client, (f"file://{root}", {}), [dsid])
    failed = [r for r in report.results if r.status == "failed"]
    assert len(failed) == 4 and all("UnsafePathError" in r.error for r in failed)
    assert by_status(report)["copied"] == [f"{crucible_user.project_id}/{dsid}/fine.txt",
                                           f"{crucible_user.project_id}/{dsid}/record.json"]
    escaped = [p for p in tmp_path.rglob("escaped.txt")] + [p for p in Path("/tmp").glob("escaped.txt")]
    assert escaped == [] and not Path("/etc/escaped.txt").exists()
    # a layout field taken from the server is checked the same way
    report, _ = run(client, (f"file://{root}", {}), [dsid], template="{dataset_name}/{relative_path}")
    assert {r.status for r in report.results if r.path.endswith("fine.txt")} == {"copied"}


def test_sha256_mismatch_fails_the_file_and_leaves_no_partial(client, crucible_server, crucible_user,
                                                              tmp_path, dest_url):
    good, bad = os.urandom(50_000), os.urandom(9 * 2**20)  # bad > one S3 part: multipart aborted
    dsid = make_dataset(client, tmp_path, crucible_user.project_id, {"good.bin": good, "bad.bin": bad})
    row = next(r for r in client.files.list(dataset_id=dsid) if r["filename"].endswith("bad.bin"))
    stored = crucible_server.stored_file_path(row["mfid"])
    corrupted = bytearray(stored.read_bytes())
    corrupted[len(corrupted) // 2] ^= 0xFF  # same size, one bit pattern off
    stored.write_bytes(bytes(corrupted))

    report, dest = run(client, dest_url, [dsid])
    base = f"{crucible_user.project_id}/{dsid}"
    [failure] = [r for r in report.results if r.status == "failed"]
    assert failure.path == f"{base}/bad.bin" and "ChecksumMismatch" in failure.error
    assert sorted(read_tree(dest)) == [f"{base}/good.bin", f"{base}/record.json"]
    assert read_tree(dest)[f"{base}/good.bin"] == good


def test_server_faults_mid_mirror_are_survived(client, crucible_server, crucible_user, tmp_path,
                                               caplog):
    caplog.set_level("DEBUG")
    files = {f"f{i:02d}.bin": os.urandom(150_000 + i) for i in range(12)}
    dsid = make_dataset(client, tmp_path, crucible_user.project_id, files)
    crucible_server.set_faults(0.3, seed=7)
    try:
        report, dest = run(client, (f"file://{tmp_path}/m", {}), [dsid], max_concurrency=3)
        injected = requests.get(f"{crucible_server.base_url}/_admin/faults", timeout=10, headers={
            "Authorization": f"Bearer {crucible_server.admin_key}"}).json()["injected"]
    finally:
        crucible_server.set_faults(0.0)
    assert sum(injected.values()) >= 3, injected  # the run really met dropped/5xx/429 answers
    assert "sig=" not in caplog.text and crucible_user.api_key not in caplog.text
    assert "/_downloads/" in caplog.text  # the retries were logged, signatures redacted
    assert not report.failed, report.failed
    tree = read_tree(dest)
    assert all(tree[f"{crucible_user.project_id}/{dsid}/{k}"] == v for k, v in files.items())
    assert not [p for p in (tmp_path / "m").rglob("*") if "partial" in p.name]


def test_query_selects_by_project_keyword_and_sample(client, crucible_user, tmp_path):
    keyword = f"kw{uuid.uuid4().hex[:8]}"
    tagged = make_dataset(client, tmp_path, crucible_user.project_id, {"x": b"x"})
    client.datasets.add_keyword(tagged, keyword)
    other = make_dataset(client, tmp_path, crucible_user.project_id, {"y": b"y"})
    source = CrucibleSource(client)
    assert source.select(Query(keyword=keyword)) == [tagged]
    assert {tagged, other} <= set(source.select(Query(project_id=crucible_user.project_id)))
    created = client.datasets.get(tagged)["creation_time"]
    assert tagged in source.select(Query(keyword=keyword, created_since=created))
    assert source.select(Query(keyword=keyword, created_since="2999-01-01T00:00:00+00:00")) == []
    parent = client.samples.create(sample_name=f"parent {keyword}", project_id=crucible_user.project_id)
    child = client.samples.create(sample_name=f"child {keyword}", project_id=crucible_user.project_id,
                                  parents=[parent["unique_id"]])
    client.datasets.add_sample(tagged, parent["unique_id"])
    client.datasets.add_sample(other, child["unique_id"])
    assert source.select(Query(sample_id=parent["unique_id"])) == [tagged]
    assert sorted(source.select(Query(sample_id=parent["unique_id"], include_descendants=True))) == \
        sorted([tagged, other])
    with pytest.raises(ValueError, match="nothing selected"):
        source.select(Query())


def test_two_files_on_one_path_the_second_fails(client, crucible_user, tmp_path):
    """docs/mirror.md: two files that a layout puts on the same path — the second fails, the
    first is written once and intact."""
    files = {"a/x.bin": b"first" * 100, "b/x.bin": b"second" * 100}
    dsid = make_dataset(client, tmp_path, crucible_user.project_id, files)
    report, dest = run(client, (f"file://{tmp_path}/out", {}), [dsid],
                       template="{dataset_id}/{filename}", record_template=None)
    rows = sorted(report.results, key=lambda r: r.status)
    assert [r.status for r in rows] == ["copied", "failed"], rows
    assert rows[0].path == f"{dsid}/x.bin"
    loser = "a/x.bin" if "a/x.bin" in rows[1].path else "b/x.bin"  # named by its source path
    assert loser in rows[1].path, rows[1]  # (today quoted: "'b/x.bin'")
    assert f"'{dsid}/x.bin' is already used by another file" in rows[1].reason
    winner = "b/x.bin" if loser == "a/x.bin" else "a/x.bin"
    assert read_tree(dest)[f"{dsid}/x.bin"] == files[winner]


def test_present_files_missing_from_the_manifest_are_verified_not_downloaded(client, crucible_user,
                                                                            tmp_path):
    """docs/mirror.md: a file present with the right size but not in the manifest is re-hashed
    at the destination and adopted ("verified"), not downloaded again."""
    import shutil

    files = {"a.bin": os.urandom(5000), "sub/b.bin": os.urandom(7000)}
    dsid = make_dataset(client, tmp_path, crucible_user.project_id, files)
    url = (f"file://{tmp_path}/out", {})
    first, _ = run(client, url, [dsid], record_template=None)
    assert set(by_status(first)) == {"copied"}
    shutil.rmtree(tmp_path / "out" / ".crucible-mirror")
    again, _ = run(client, url, [dsid], record_template=None)
    assert set(by_status(again)) == {"verified"} and again.bytes_copied == 0
    third, _ = run(client, url, [dsid], record_template=None)
    assert set(by_status(third)) == {"skipped"}  # adopted into the manifest


def test_a_file_not_ingested_yet_fails_with_a_clear_message(client, crucible_user, tmp_path):
    dsid = make_dataset(client, tmp_path, crucible_user.project_id, {"ok.bin": b"ok" * 100})
    src = tmp_path / "late.bin"
    src.write_bytes(b"late" * 100)
    client.datasets.upload_file(dsid, src, ingest=False)
    report, _ = run(client, (f"file://{tmp_path}/out", {}), [dsid], record_template=None)
    statuses = {r.path.rsplit("/", 1)[-1].strip("'"): r for r in report.results}
    assert statuses["ok.bin"].status == "copied"
    assert statuses["late.bin"].status == "failed"
    assert "ingest" in statuses["late.bin"].reason.lower(), statuses["late.bin"].reason


def test_a_dead_link_is_retried_once_with_a_fresh_one(gateway, crucible_user, tmp_path):
    """docs/mirror.md: a file that cannot be fetched gets one more attempt with a fresh signed
    URL. The gateway breaks the signatures in the dataset's link list; the per-file link the
    mirror asks for next is intact."""
    from crucible import CrucibleClient, RetryPolicy

    with CrucibleClient(gateway.api, crucible_user.api_key,
                        retry=RetryPolicy(attempts=2, backoff=0.01, backoff_max=0.05)) as client:
        body = os.urandom(4000)
        dsid = make_dataset(client, tmp_path, crucible_user.project_id, {"a.bin": body})
        gateway.rewrite = lambda method, path, content: (
            content.replace(b"sig=", b"sig=0") if path.endswith("/download_links") else content)
        report, dest = run(client, (f"file://{tmp_path}/out", {}), [dsid], record_template=None)
    assert by_status(report) == {"copied": [f"{crucible_user.project_id}/{dsid}/a.bin"]}
    assert read_tree(dest)[f"{crucible_user.project_id}/{dsid}/a.bin"] == body
    fresh = [p for m, p, q in gateway.seen if p.endswith("/download_link")]
    assert len(fresh) == 1
