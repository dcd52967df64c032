"""client.download: layout, record.json, globs, verification, overwrite rules, hostile paths."""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crucible import ChecksumMismatchError, Dataset
from crucible.errors import FilesRefusedError
from crucible.transfer import (DownloadPlan, ExistingFileDiffers, UnsafePathError, copy_url,
                               stream_url)
from crucible.transfer.paths import safe_join, safe_relative_path


@pytest.fixture
def filled(client, project_id, make_file):
    """A dataset with three ingested files, two of them below ``raw/``."""
    dsid = client.datasets.create(Dataset(dataset_name="dl", project_id=project_id),
                                  scientific_metadata={"k": "v"})["dsid"]
    files = {}
    for rel, size in (("raw/a.dat", 1000), ("raw/b.csv", 2000), ("notes.txt", 50)):
        p = make_file(rel.replace("/", "_"), size)
        rec = client.datasets.upload_file(dsid, p, relative_path=rel, wait=True, timeout=60)
        files[rel] = (rec, p.read_bytes())
    return dsid, files


def test_download_layout_and_record(client, filled, tmp_path):
    dsid, files = filled
    out = tmp_path / "out"
    paths = client.download(dsid, output_dir=out)
    assert sorted(paths) == sorted([str(out / dsid / "record.json")] +
                                   [str(out / dsid / rel) for rel in files])
    for rel, (_rec, data) in files.items():
        assert (out / dsid / rel).read_bytes() == data
    record = json.loads((out / dsid / "record.json").read_text())
    assert record["unique_id"] == dsid and record["scientific_metadata"] == {"k": "v"}
    assert not list(out.rglob("*.part"))


def test_include_exclude_globs(client, filled, tmp_path):
    dsid, _ = filled
    got = client.download(dsid, output_dir=tmp_path / "a", include="raw/*", no_record=True)
    assert sorted(Path(p).name for p in got) == ["a.dat", "b.csv"]
    got = client.download(dsid, output_dir=tmp_path / "b", include=["*.csv", "*.txt"],
                          exclude="notes*", no_record=True)
    assert [Path(p).name for p in got] == ["b.csv"]
    got = client.datasets.download(dsid, output_dir=tmp_path / "c", exclude="*.dat")
    assert sorted(Path(p).name for p in got) == ["b.csv", "notes.txt", "record.json"]
    got = client.datasets.download(dsid, file_name=r"\.csv$", output_dir=tmp_path / "d",
                                   no_record=True)
    assert [Path(p).name for p in got] == ["b.csv"]


def test_no_files_and_no_record(client, filled, tmp_path):
    dsid, _ = filled
    assert client.download(dsid, output_dir=tmp_path, no_files=True) == [
        str(tmp_path / dsid / "record.json")]
    assert len(client.download(dsid, output_dir=tmp_path / "x", no_record=True)) == 3


def test_sample_download_writes_the_record(client, project_id, tmp_path):
    s = client.samples.create(sample_name="boule", project_id=project_id)
    paths = client.download(s["unique_id"], output_dir=tmp_path)
    assert json.loads(Path(paths[0]).read_text())["sample_name"] == "boule"


def test_corrupt_stored_file_is_refused(client, filled, tmp_path, crucible_server):
    dsid, files = filled
    rec, data = files["notes.txt"]
    stored = crucible_server.stored_file_path(rec["mfid"])
    original = stored.read_bytes()
    stored.write_bytes(b"X" + original[1:])
    try:
        with pytest.raises(ChecksumMismatchError) as err:
            client.download(dsid, output_dir=tmp_path, include="notes.txt")
        assert err.value.expected == rec["sha256_hash"]
        assert not (tmp_path / dsid / "notes.txt").exists()
        assert not list(tmp_path.rglob("*.part"))
    finally:
        stored.write_bytes(original)


def test_overwrite_existing_false_keeps_only_matching_files(client, filled, tmp_path):
    dsid, files = filled
    out = tmp_path / "o"
    client.download(dsid, output_dir=out, no_record=True)
    same = out / dsid / "raw" / "a.dat"
    wrong = out / dsid / "raw" / "b.csv"
    wrong.write_bytes(b"local edits")
    (out / dsid / "notes.txt").unlink()
    with pytest.raises(ExistingFileDiffers) as err:
        client.download(dsid, output_dir=out, no_record=True, overwrite_existing=False)
    assert "b.csv" in str(err.value)
    assert wrong.read_bytes() == b"local edits"  # not overwritten against the caller's wish
    assert same.read_bytes() == files["raw/a.dat"][1]
    assert (out / dsid / "notes.txt").read_bytes() == files["notes.txt"][1]  # others still done
    # the default overwrites
    client.download(dsid, output_dir=out, no_record=True)
    assert wrong.read_bytes() == files["raw/b.csv"][1]


def _stored_as(client, server, dsid: str, name: str, data: bytes, tmp_path: Path) -> dict:
    """Make the server hold an ingested file whose stored path is ``name``: upload it under a
    harmless name, then store the name raw through the local server's test-support endpoint
    (our server refuses such names; a broken or hostile server might still return them)."""
    src = tmp_path / "src" / hashlib.sha256(name.encode()).hexdigest()[:16]
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(data)
    rec = client.datasets.upload_file(dsid, src, wait=True, timeout=60)
    return server.set_raw_file_names(rec["mfid"], storage_path=f"mf-storage-prod/{dsid}/{name}")


LONG = "L" * 300 + ".txt"
DEEP = "/".join(["d" * 250] * 20) + ".bin"  # every name fits, the whole path does not
HOSTILE = ["../../../../tmp/x", "/etc/x", "a/../../x", LONG, "nul\x00name.txt", DEEP]


@pytest.fixture
def hostile(client, crucible_server, project_id, tmp_path):
    """A dataset whose hostile names come first, then two good files."""
    dsid = client.datasets.create(Dataset(dataset_name="hostile",
                                          project_id=project_id))["dsid"]
    bad = {name: _stored_as(client, crucible_server, dsid, name, f"bad {i}".encode(), tmp_path)["mfid"]
           for i, name in enumerate(HOSTILE)}
    good = {name: f"good {name}".encode() for name in ("ok.txt", "sub/ok.dat")}
    for name, data in good.items():
        _stored_as(client, crucible_server, dsid, name, data, tmp_path)
    return dsid, bad, good


def test_unsafe_names_are_refused_and_every_other_file_lands(client, hostile, tmp_path):
    dsid, bad, good = hostile
    out = tmp_path / "deep" / "out"
    with pytest.raises(FilesRefusedError) as err:
        client.download(dsid, output_dir=out)
    refused = {r.name: r for r in err.value.refused}
    assert sorted(refused) == sorted(HOSTILE)
    assert {r.mfid for r in refused.values()} == set(bad.values())
    assert "leaves the output directory" in refused["../../../../tmp/x"].reason
    assert "absolute" in refused["/etc/x"].reason
    assert "304 bytes" in refused[LONG].reason
    assert "file system refuses the name" in refused[DEEP].reason
    for name in HOSTILE:
        assert repr(name) in str(err.value)
    assert sorted(err.value.downloaded) == sorted(
        [str(out / dsid / "record.json")] + [str(out / dsid / n) for n in good])
    for name, data in good.items():
        assert (out / dsid / name).read_bytes() == data
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "src" not in p.parts]
    assert sorted(written) == sorted(Path(p) for p in err.value.downloaded)
    assert not Path("/tmp/x").exists() or Path("/tmp/x").read_bytes() != b"bad 0"


def test_filters_apply_before_path_checks(client, hostile, tmp_path):
    dsid, _bad, _good = hostile
    got = client.download(dsid, output_dir=tmp_path / "a", include="*.dat", no_record=True)
    assert got == [str(tmp_path / "a" / dsid / "sub" / "ok.dat")]
    got = client.download(dsid, output_dir=tmp_path / "b", no_record=True,
                          include=["*.txt", "*.dat"], exclude=[LONG, "nul*"])
    assert sorted(Path(p).name for p in got) == ["ok.dat", "ok.txt"]
    with pytest.raises(FilesRefusedError) as err:  # included, so refused (and named)
        client.download(dsid, output_dir=tmp_path / "c", include="*.txt", no_record=True)
    assert sorted(r.name for r in err.value.refused) == sorted([LONG, "nul\x00name.txt"])
    assert [Path(p).name for p in err.value.downloaded] == ["ok.txt"]


def test_two_files_with_one_local_path_are_both_refused(client, crucible_server, project_id, tmp_path):
    dsid = client.datasets.create(Dataset(dataset_name="clash", project_id=project_id))["dsid"]
    v1 = _stored_as(client, crucible_server, dsid, "data.csv", b"v1", tmp_path)
    v2 = _stored_as(client, crucible_server, dsid, "data.csv", b"v2", tmp_path)
    _stored_as(client, crucible_server, dsid, "other.csv", b"other", tmp_path)
    out = tmp_path / "out"
    with pytest.raises(FilesRefusedError) as err:
        client.download(dsid, output_dir=out, no_record=True)
    assert sorted(r.mfid for r in err.value.refused) == sorted([v1["mfid"], v2["mfid"]])
    assert all("also where 'data.csv' would go" in r.reason for r in err.value.refused)
    assert not (out / dsid / "data.csv").exists()
    assert err.value.downloaded == [str(out / dsid / "other.csv")]
    assert (out / dsid / "other.csv").read_bytes() == b"other"


def test_a_file_named_record_json_never_overwrites_the_record(client, crucible_server, project_id,
                                                              tmp_path):
    dsid = client.datasets.create(Dataset(dataset_name="rec", project_id=project_id))["dsid"]
    _stored_as(client, crucible_server, dsid, "record.json", b"not the record", tmp_path)
    with pytest.raises(FilesRefusedError) as err:
        client.download(dsid, output_dir=tmp_path / "a")
    assert [r.name for r in err.value.refused] == ["record.json"]
    assert json.loads((tmp_path / "a" / dsid / "record.json").read_text())["unique_id"] == dsid
    got = client.download(dsid, output_dir=tmp_path / "b", no_record=True)
    assert Path(got[0]).read_bytes() == b"not the record"


def test_plan_refuses_a_file_where_another_needs_a_folder(tmp_path):
    plan = DownloadPlan(tmp_path, reserved=["record.json"])
    for name in ("a", "a/b", "c/d", "./c/e", "record.json", "A"):
        plan.add(name, "http://x/" + name, {"mfid": name})
    kept = [f.rel for f in plan.files()]
    assert sorted(r.name for r in plan.refused) == ["a", "a/b", "record.json"]
    assert kept == ["c/d", "c/e", "A"] if sys.platform != "darwin" else ["c/d", "c/e"]


@pytest.mark.parametrize("bad", ["../x", "/etc/x", "a/../../x", "..\\x", "C:\\x", "", "a\x00b"])
def test_safe_paths(tmp_path, bad):
    with pytest.raises(UnsafePathError):
        safe_join(tmp_path, bad)


def test_safe_paths_normalise(tmp_path):
    assert safe_relative_path("./a//b/./c") == "a/b/c"
    (tmp_path / "link").symlink_to("/etc")
    with pytest.raises(UnsafePathError):  # a symlink in the tree cannot lead outside either
        safe_join(tmp_path, "link/passwd")


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict] = []
    body = b"0123456789" * 1000

    def do_GET(self):  # noqa: N802
        type(self).seen.append(dict(self.headers))
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range",
                             f"bytes {start}-{len(self.body) - 1}/{len(self.body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(self.body) - start))
        self.end_headers()
        self.wfile.write(self.body[start:])

    def log_message(self, *args):
        pass


def test_signed_urls_are_fetched_without_the_key(client, crucible_user):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/blob?sig=abc&expires=1"
        import io

        buf = io.BytesIO()
        res = copy_url(url, buf, expected_sha256=hashlib.sha256(_Recorder.body).hexdigest(),
                       transport=client._transport)
        assert buf.getvalue() == _Recorder.body and res.size == len(_Recorder.body)
        assert b"".join(stream_url(url, start=5, transport=client._transport)) == \
            _Recorder.body[5:]
        assert _Recorder.seen and all("Authorization" not in h for h in _Recorder.seen)
        assert all(crucible_user.api_key not in str(h) for h in _Recorder.seen)
        with pytest.raises(ChecksumMismatchError) as err:
            copy_url(url, io.BytesIO(), expected_sha256="0" * 64, transport=client._transport)
        assert "sig=" not in str(err.value)
    finally:
        srv.shutdown()
        srv.server_close()
