"""One glob language: the same patterns select the same files in download, ingest and mirror."""

from __future__ import annotations

from pathlib import Path

import pytest

from crucible import globs

NESTED = ["a.ser", "a.emi", "raw/b.ser", "raw/deep/c.ser", "raw/deep/c.txt", "notes/readme.txt",
          "tmp/d.ser"]

CASES = {
    ("*.ser",): {"a.ser", "raw/b.ser", "raw/deep/c.ser", "tmp/d.ser"},
    ("raw/*.ser",): {"raw/b.ser"},
    ("raw/**/*.ser",): {"raw/b.ser", "raw/deep/c.ser"},
    ("**/*.txt",): {"raw/deep/c.txt", "notes/readme.txt"},
    ("a.*",): {"a.ser", "a.emi"},
    ("raw/deep/c.[st]*",): {"raw/deep/c.ser", "raw/deep/c.txt"},
}


@pytest.mark.parametrize("include", list(CASES))
def test_the_language(include):
    assert {p for p in NESTED if globs.select(p, include)} == CASES[include]


def test_exclude_without_a_slash_also_matches_folders():
    kept = {p for p in NESTED if globs.select(p, ["*.ser"], ["tmp", "deep"])}
    assert kept == {"a.ser", "raw/b.ser"}
    assert not globs.select(".git/config", None, [".*"])
    assert globs.select("x.txt", "*.txt") and not globs.select("x.txt", "*.ser")  # one string


@pytest.fixture(scope="module")
def nested_dataset(crucible_server, crucible_user, tmp_path_factory):
    """A dataset whose files have the NESTED relative paths, and the same tree on disk."""
    from crucible import CrucibleClient
    from crucible.mfid import new_mfid

    root = tmp_path_factory.mktemp("nested")
    client = CrucibleClient(crucible_server.url, crucible_user.api_key)
    dsid = new_mfid()
    client.datasets.create({"unique_id": dsid, "dataset_name": "globs",
                            "project_id": crucible_user.project_id})
    for rel in NESTED:
        local = root / rel
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(rel.encode())
        client.datasets.upload_file(dsid, str(local), relative_path=rel, wait=True)
    yield client, dsid, root
    client.close()


@pytest.mark.parametrize("include", list(CASES))
def test_download_ingest_and_mirror_select_the_same_files(nested_dataset, tmp_path, include):
    from crucible.ingest import discovery
    from crucible.jobs import ThreadRunner, run_job
    from crucible.mirror import MirrorJob, MirrorOptions, Query, open_destination

    client, dsid, root = nested_dataset
    want = CASES[include]

    out = tmp_path / "download"
    paths = client.download(dsid, output_dir=out, include=list(include), no_record=True)
    downloaded = {Path(p).relative_to(out / dsid).as_posix() for p in paths}

    listed = discovery.list_files(discovery.open_source(str(root)), list(include), [])
    ingested = {e.rel for e in listed}

    dest = open_destination(str(tmp_path / "mirror"))
    job = MirrorJob(Query(dataset_ids=(dsid,)), dest, client,
                    MirrorOptions(template="{relative_path}", record_template=None,
                                  include=tuple(include)))
    report = run_job(job, ThreadRunner(client, max_workers=2))
    mirrored = {r.path for r in report.results if r.status == "copied"}

    assert downloaded == ingested == mirrored == want
