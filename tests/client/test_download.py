"""client.download: layout, record.json, globs, verification, overwrite rules, hostile paths."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from crucible import ChecksumMismatchError, Dataset
from crucible.transfer import ExistingFileDiffers, UnsafePathError, copy_url, stream_url
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


def _hostile_upload(client, dsid: str, filename: str) -> None:
    """Make the server hold a file whose stored path is hostile (raw HTTP: our client refuses
    to send such names)."""
    data = b"hostile"
    t = client._transport
    init = t.request("POST", f"datasets/{dsid}/upload/initiate",
                     json={"filename": filename, "size": len(data),
                           "sha256_hash": hashlib.sha256(data).hexdigest()})
    r = requests.put(init["resumable_uri"], data=data,
                     headers={"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"})
    assert r.status_code in (200, 201)
    rec = t.request("POST", f"datasets/{dsid}/upload/complete",
                    json={"upload_id": init["upload_id"]})
    client.ingestions.wait(client.ingestions.request(rec["mfid"])["id"], timeout=60)


@pytest.mark.parametrize("hostile", ["../x", "/etc/x", "a/../../x"])
def test_hostile_keys_are_refused(client, project_id, tmp_path, hostile):
    dsid = client.datasets.create(Dataset(dataset_name="hostile",
                                          project_id=project_id))["dsid"]
    try:
        _hostile_upload(client, dsid, hostile)
    except Exception as exc:  # the server may refuse the name itself: then check the path rule
        pytest.skip(f"server refuses the hostile name ({exc}); covered by test_safe_paths")
    out = tmp_path / "deep" / "out"
    with pytest.raises(UnsafePathError):
        client.download(dsid, output_dir=out)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(out in p.parents for p in written)
    assert not any(p.name == "x" for p in written)


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
