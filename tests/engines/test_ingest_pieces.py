"""The pure pieces of the ingest flow: discovery, grouping, quiescence, identity, extractors.

No server needed: real local and memory filesystems in temporary folders.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import fsspec
import pytest

from crucible.mfid import is_mfid, uuid_from_mfid
from crucible.ingest import discovery, extractors, grouping, identity, quiescence
from crucible.ingest.hashcache import DigestCache
from crucible.ingest.models import FileEntry, FileGroup


def _write(root, rel, data=b"x", age=3600.0):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    t = time.time() - age
    os.utime(path, (t, t))
    return path


def test_discovery_lists_files_below_the_root_with_relative_posix_paths(tmp_path):
    _write(tmp_path, "a.dat")
    _write(tmp_path, "sub/dir/b c é..d.dat")
    _write(tmp_path, ".hidden")
    _write(tmp_path, ".git/config")
    _write(tmp_path, "x.dat~")
    source = discovery.open_source(str(tmp_path))
    rels = [e.rel for e in discovery.list_files(source)]
    assert rels == ["a.dat", "sub/dir/b c é..d.dat"]
    assert source.name == tmp_path.name and source.single_file is None


def test_include_and_exclude_globs(tmp_path):
    for rel in ["a.ser", "a.emi", "b.txt", "raw/c.ser", "raw/skip/d.ser"]:
        _write(tmp_path, rel)
    source = discovery.open_source(str(tmp_path))
    got = [e.rel for e in discovery.list_files(source, include=["*.ser", "*.emi"], exclude=["skip"])]
    assert got == ["a.emi", "a.ser", "raw/c.ser"]
    got = [e.rel for e in discovery.list_files(source, include=["raw/*.ser"], exclude=[])]
    assert got == ["raw/c.ser"]


def test_default_excludes_and_double_star_at_any_depth(tmp_path):
    """docs/ingest.md: by default hidden and temp files (and hidden folders) are skipped,
    ``exclude=[]`` keeps everything; ``**/`` also matches zero folders (docs/globs.md)."""
    junk = [".hidden", ".git/config", "a.dat~", "~$report.docx", "Thumbs.db", "desktop.ini",
            "x.tmp", "y.part", "raw/.DS_Store", "raw/z.tmp"]
    kept = ["a.dat", "raw/b.dat", "raw/deep/notes.txt", "top.txt"]
    for rel in junk + kept:
        _write(tmp_path, rel)
    source = discovery.open_source(str(tmp_path))
    assert [e.rel for e in discovery.list_files(source)] == sorted(kept)
    assert sorted(e.rel for e in discovery.list_files(source, exclude=[])) == sorted(junk + kept)
    assert [e.rel for e in discovery.list_files(source, include=["**/*.txt"])] == \
        ["raw/deep/notes.txt", "top.txt"]


def test_single_file_path_uses_its_folder_as_root(tmp_path):
    _write(tmp_path, "run1/one.dat", b"abc")
    _write(tmp_path, "run1/two.dat")
    source = discovery.open_source(str(tmp_path / "run1" / "one.dat"))
    entries = discovery.list_files(source)
    assert [(e.rel, e.size) for e in entries] == [("one.dat", 3)]
    assert source.name == "run1"


def test_missing_and_empty_paths_are_clear_errors(tmp_path):
    with pytest.raises(discovery.SourceError, match="does not exist"):
        discovery.open_source(str(tmp_path / "nope"))
    with pytest.raises(discovery.SourceError, match="empty"):
        discovery.open_source("  ")


def test_dangling_link_is_listed_as_not_regular(tmp_path):
    _write(tmp_path, "ok.dat")
    os.symlink(tmp_path / "gone", tmp_path / "broken.dat")
    entries = {e.rel: e for e in discovery.list_files(discovery.open_source(str(tmp_path)))}
    assert entries["ok.dat"].regular and not entries["broken.dat"].regular


def test_memory_filesystem_urls_work():
    fs = fsspec.filesystem("memory")
    fs.pipe("/inst/run7/a.ser", b"123")
    fs.pipe("/inst/run7/a.emi", b"45")
    source = discovery.open_source("memory://inst/run7")
    entries = discovery.list_files(source)
    assert [e.rel for e in entries] == ["a.emi", "a.ser"]
    assert source.name == "run7"
    fs.rm("/inst", recursive=True)


def _entries(*rels):
    return [FileEntry(path="/r/" + r, rel=r, size=len(r)) for r in rels]


def test_stem_grouping_keeps_companions_together():
    groups = grouping.group_files(_entries(
        "img_001.ser", "img_001.emi", "img_001.json", "img_002.ser", "img_002.ser.json",
        "sub/img_001.ser", "README"), "stem")
    keys = {g.key: [f.rel for f in g.files] for g in groups}
    assert keys == {
        "README": ["README"],
        "img_001": ["img_001.emi", "img_001.json", "img_001.ser"],
        "img_002": ["img_002.ser", "img_002.ser.json"],
        "sub/img_001": ["sub/img_001.ser"],
    }
    main = {g.key: g.main.rel for g in groups}
    assert main["img_001"] == "img_001.ser" and main["img_002"] == "img_002.ser"


def test_file_and_regex_grouping():
    entries = _entries("scan.emi", "scan_1.ser", "scan_2.ser", "other.dat")
    assert len(grouping.group_files(entries, "file")) == 4
    groups = grouping.group_files(entries, r"regex:^(.*?)(?:_\d+)?\.(?:ser|emi)$")
    assert {g.key: len(g.files) for g in groups} == {"scan": 3, "other.dat": 1}
    with pytest.raises(grouping.GroupingError):
        grouping.group_files(entries, "by-color")
    with pytest.raises(grouping.GroupingError):
        grouping.group_files(entries, "regex:([")


def test_fresh_groups_are_held_back_as_a_whole():
    now = 1_000_000.0
    old = FileEntry("/r/a.ser", "a.ser", 1, mtime=now - 100)
    new = FileEntry("/r/a.emi", "a.emi", 1, mtime=now - 5)
    other = FileEntry("/r/b.dat", "b.dat", 1, mtime=now - 100)
    ready, held = quiescence.split_settled(
        [FileGroup("a", [old, new]), FileGroup("b", [other])], settle_seconds=30, now=now)
    assert [g.key for g in ready] == ["b"]
    assert held[0][0].key == "a" and "a.emi" in held[0][1] and "still being written" in held[0][1]
    ready, held = quiescence.split_settled([FileGroup("a", [old, new])], settle_seconds=0, now=now)
    assert len(ready) == 1 and not held


def test_growth_after_discovery_is_detected(tmp_path):
    path = _write(tmp_path, "grow.dat", b"abc")
    source = discovery.open_source(str(tmp_path))
    (entry,) = discovery.list_files(source)
    assert quiescence.changed_reason(source.fs, entry) is None
    with open(path, "ab") as fh:
        fh.write(b"more")
    assert "changed while it was read" in quiescence.changed_reason(source.fs, entry)
    path.unlink()
    assert "vanished" in quiescence.changed_reason(source.fs, entry)


def test_identity_is_deterministic_and_a_valid_mfid():
    a = identity.group_identity("TitanX", "P1", "run1", "img", [("img.ser", "aa"), ("img.emi", "bb")])
    b = identity.group_identity("TitanX", "P1", "run1", "img", [("img.emi", "bb"), ("img.ser", "aa")])
    assert a == b
    ida, idb = identity.identity_mfid(a), identity.identity_mfid(b)
    assert ida == idb and is_mfid(ida)
    assert uuid_from_mfid(ida).version == 8
    changed = identity.group_identity("TitanX", "P1", "run1", "img", [("img.ser", "ac"), ("img.emi", "bb")])
    assert identity.identity_mfid(changed) != ida
    parent = identity.identity_mfid(identity.run_identity("TitanX", "P1", "run1", "session"))
    assert parent != ida and is_mfid(parent)
    assert isinstance(uuid_from_mfid(parent), uuid.UUID)


def test_sha256_streams_the_file(tmp_path):
    import hashlib

    data = os.urandom(300_000)
    path = _write(tmp_path, "f.bin", data)
    fs = fsspec.filesystem("file")
    assert identity.sha256_of(fs, str(path), chunk_size=4096) == (hashlib.sha256(data).hexdigest(), len(data))


def test_digest_cache_hits_only_for_same_size_and_mtime(tmp_path):
    cache = DigestCache(tmp_path / "c.sqlite")
    e = FileEntry("/r/a", "a", 10, mtime=5.0)
    assert cache.get("file", e) is None
    cache.put("file", e, "f" * 64)
    assert cache.get("file", e) == "f" * 64
    assert cache.get("file", FileEntry("/r/a", "a", 11, mtime=5.0)) is None
    assert cache.get("file", FileEntry("/r/a", "a", 10, mtime=6.0)) is None
    assert DigestCache(None).get("file", e) is None
    cache.close()


def test_json_sidecar_and_import_path_extractors(tmp_path):
    _write(tmp_path, "img.ser", b"data")
    _write(tmp_path, "img.json", json.dumps({"beam": {"kv": 300}, "mode": "TEM"}).encode())
    source = discovery.open_source(str(tmp_path))
    (group,) = grouping.group_files(discovery.list_files(source))
    chosen = extractors.resolve_all(["json_sidecar", "tests_ingest_helpers_missing:fn"][:1])
    meta = extractors.extract(group, source.fs, chosen, static={"beam": {"spot": 3}, "mode": "x"})
    assert meta == {"beam": {"spot": 3, "kv": 300}, "mode": "TEM"}
    fn = extractors.resolve("json:dumps")
    assert fn is json.dumps
    with pytest.raises(extractors.ExtractorError, match="cannot be imported"):
        extractors.resolve("no_such_module_xyz:fn")
    with pytest.raises(extractors.ExtractorError):
        extractors.resolve("nodots")


def test_bad_sidecar_is_reported_with_the_extractor_name(tmp_path):
    _write(tmp_path, "img.ser", b"data")
    _write(tmp_path, "img.json", b"{not json")
    source = discovery.open_source(str(tmp_path))
    (group,) = grouping.group_files(discovery.list_files(source))
    with pytest.raises(ValueError, match="json_sidecar.*not valid JSON"):
        extractors.extract(group, source.fs, extractors.resolve_all(["json_sidecar"]))


def test_batches_balance_bytes_and_keep_every_group_once():
    from crucible.ingest.batching import make_batches

    groups = [FileGroup(f"g{i:03d}", [FileEntry(f"/r/g{i}", f"g{i}", 1000)]) for i in range(100)]
    groups.append(FileGroup("big", [FileEntry("/r/big", "big", 10**9)]))
    batches = make_batches(groups, max_concurrency=4)
    assert len(batches) == 16
    assert sorted(g.key for b in batches for g in b) == sorted(g.key for g in groups)
    (alone,) = [b for b in batches if any(g.key == "big" for g in b)]
    assert len(alone) == 1  # the big group does not hold up small ones
    assert make_batches(groups[:3], max_concurrency=8) == [[g] for g in groups[:3]]
    assert make_batches([], max_concurrency=8) == []


def test_a_group_that_grows_while_it_is_read_is_held_back(tmp_path):
    from crucible.ingest.worker import RunContext, ingest_group

    path = _write(tmp_path, "run/scan.ser", b"a" * 1000)
    _write(tmp_path, "run/scan.emi", b"e" * 10)
    source = discovery.open_source(str(tmp_path / "run"))
    (group,) = grouping.group_files(discovery.list_files(source))
    with open(path, "ab") as fh:  # the instrument appends after discovery, before hashing
        fh.write(b"b" * 500)
    ctx = RunContext(fs=source.fs, protocol="file", source_url=str(tmp_path), is_local=True,
                     instrument="X", project="P", run="run", owner="o", mode="files")
    result = ingest_group(None, ctx, group)  # held back before any Crucible call
    assert {r.status for r in result.rows} == {"held"}
    assert "scan.ser" in result.rows[0].reason and result.dataset_id is None
