"""Mirror building blocks on real fsspec filesystems: paths, atomic writer, manifest, fetch."""

from __future__ import annotations

import hashlib
import http.server
import threading
import uuid

import pytest

from crucible.mirror.destination import Destination, open_destination
from crucible.transport import RetryPolicy, Transport
from crucible.mirror.fetch import ChecksumMismatchError, TransferError, copy_verified, redact_url
from crucible.mirror.manifest import JOURNAL_DIR, MANIFEST_NAME, Entry, Manifest
from crucible.mirror.paths import (UnsafePathError, check_template, render, safe_relative_path)
from crucible.mirror.testing import s3_bucket, s3_endpoint, s3_storage_options  # noqa: F401

FAST = Transport("", None, retry=RetryPolicy(attempts=4, backoff=0.01, jitter=0))


# -- paths -----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc/x", "C:/x", "a\\b", "", ".",
                                 "a/\x00b", "s3://b/k", ".crucible-mirror/manifest.json",
                                 "d/.f.crucible-partial-abc"])
def test_hostile_relative_paths_are_rejected(bad):
    with pytest.raises(UnsafePathError):
        safe_relative_path(bad)


def test_relative_paths_are_normalised():
    assert safe_relative_path("./a//b/./c.h5") == "a/b/c.h5"


def test_render_checks_every_field():
    fields = {"project_id": "P1", "dataset_id": "ds1", "relative_path": "raw/a.h5"}
    assert render("{project_id}/{dataset_id}/{relative_path}", fields) == "P1/ds1/raw/a.h5"
    with pytest.raises(UnsafePathError):
        render("{project_id}/{relative_path}", {**fields, "project_id": "../other"})
    with pytest.raises(UnsafePathError):  # single-segment fields may not smuggle a slash
        render("{project_id}/{relative_path}", {**fields, "project_id": "a/b"})
    with pytest.raises(UnsafePathError, match="no value"):
        render("{instrument_name}/{relative_path}", fields)


@pytest.mark.parametrize("bad", ["{nope}/{relative_path}", "/{relative_path}", "../{relative_path}",
                                 "{relative_path!r}"])
def test_bad_templates_are_refused(bad):
    with pytest.raises(ValueError):
        check_template(bad)


# -- destinations on three real filesystems -----------------------------------------------------
@pytest.fixture(params=["file", "memory", "s3"])
def dest(request, tmp_path) -> Destination:
    if request.param == "file":
        return open_destination(f"file://{tmp_path}/mirror")
    if request.param == "memory":
        return open_destination(f"memory://mirror-{uuid.uuid4().hex[:8]}")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return open_destination(f"s3://{bucket}/root", s3_storage_options(endpoint))


def _final_files(dest: Destination) -> dict[str, bytes]:
    found = dest.fs.find(dest.root, withdirs=False)
    return {p[len(dest.root) + 1:]: dest.fs.cat_file(p) for p in found}


def test_writer_commit_publishes_complete_bytes(dest):
    assert dest.strategy == ("direct" if "s3" in dest.fs.protocol else "rename")
    writer = dest.open_writer("a/b/data.bin")
    writer.write(b"x" * 1000)
    assert dest.fs.exists(dest.path("a/b/data.bin")) is False  # nothing visible mid-write
    writer.write(b"y")
    writer.commit()
    assert _final_files(dest) == {"a/b/data.bin": b"x" * 1000 + b"y"}


def test_writer_abort_keeps_the_old_version_and_leaves_nothing(dest):
    dest.write_bytes("d/f.bin", b"old")
    writer = dest.open_writer("d/f.bin")
    writer.write(b"n" * (9 * 2**20))  # > one s3 part: a multipart upload is in flight
    writer.abort()
    assert _final_files(dest) == {"d/f.bin": b"old"}


def test_aborted_multipart_upload_never_creates_the_key(s3_endpoint, s3_bucket):
    dest = open_destination(f"s3://{s3_bucket}/m", s3_storage_options(s3_endpoint))
    writer = dest.open_writer("big.bin")
    writer.write(b"z" * (17 * 2**20))
    assert writer._file.mpu, "expected a multipart upload in progress"
    writer.abort()
    del writer  # __del__ must not complete the upload either
    assert not dest.fs.exists(dest.path("big.bin"))
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-east-1")
    assert not s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads")


def test_listing_is_cached_per_directory(dest):
    dest.write_bytes("d/a", b"1")
    dest.write_bytes("d/b", b"22")
    fresh = Destination(fs=dest.fs, root=dest.root)
    assert fresh.existing_size("d/a") == 1
    assert fresh.existing_size("d/b") == 2
    assert fresh.existing_size("d/c") is None
    assert fresh.existing_size("nowhere/x") is None
    assert fresh.listing_calls == 2


def test_destination_needs_a_url():
    with pytest.raises(ValueError, match="destination is empty"):
        open_destination("")


# -- manifest -------------------------------------------------------------------------------------
def test_manifest_journal_survives_a_crash_and_compacts(dest):
    m = Manifest(dest, flush_every=2, flush_seconds=3600).load()
    m.record(Entry("p/a", 1, "aa", "ds"))
    m.record(Entry("p/b", 2, "bb", "ds"))  # second change flushes a journal segment
    m.record(Entry("p/c", 3, "cc", "ds"))  # pending only: lost in a "crash"
    # a crash here: no compact(); a new run sees the journaled entries
    again = Manifest(Destination(fs=dest.fs, root=dest.root)).load()
    assert sorted(again.entries) == ["p/a", "p/b"]
    again.forget("p/a")
    again.record(Entry("p/d", 4, "dd", "ds"))
    again.compact()
    assert not Destination(fs=dest.fs, root=dest.root).listing(JOURNAL_DIR)
    final = Manifest(Destination(fs=dest.fs, root=dest.root)).load()
    assert sorted(final.entries) == ["p/b", "p/d"] and final.generation == 1
    assert final.entries["p/d"] == Entry("p/d", 4, "dd", "ds")


def test_stale_segments_of_an_older_generation_are_ignored(dest):
    m = Manifest(dest).load()
    m.record(Entry("x", 1, "old"))
    m.flush()
    stale = dest.listing(JOURNAL_DIR).copy()
    body = {n: dest.read_bytes(f"{JOURNAL_DIR}/{n}") for n in stale}
    m.record(Entry("x", 2, "new"))
    m.compact()
    for name, data in body.items():  # a clean-up that never happened
        dest.write_bytes(f"{JOURNAL_DIR}/{name}", data)
    assert Manifest(Destination(fs=dest.fs, root=dest.root)).load().entries["x"].sha256 == "new"
    assert dest.fs.exists(dest.path(MANIFEST_NAME))


# -- streaming verified copy --------------------------------------------------------------------
class _Storage(http.server.BaseHTTPRequestHandler):
    """A storage host for fetch tests: serves one blob with Range, can break mid-stream."""

    blob = b""
    break_after: list[int] = []  # per request: cut the body after n bytes (popped in order)
    seen: list[dict] = []
    honour_range = True

    def do_GET(self):  # noqa: N802
        type(self).seen.append(dict(self.headers))
        start = 0
        rng = self.headers.get("Range")
        if rng and self.honour_range:
            start = int(rng.split("=")[1].split("-")[0])
        body = self.blob[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(self.blob) - 1}/{len(self.blob)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = self.break_after.pop(0) if self.break_after else None
        self.wfile.write(body if cut is None else body[:cut])
        if cut is not None:
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def storage():
    handler = type("H", (_Storage,), {"blob": b"", "break_after": [], "seen": [], "honour_range": True})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/blob/abc?expires=1&sig=SECRETSIG"
    yield handler
    server.shutdown()
    server.server_close()


def test_copy_resumes_with_range_after_a_broken_stream(storage, tmp_path):
    storage.blob = bytes(range(256)) * 4096  # 1 MiB
    storage.break_after = [300_000, 200_000]
    dest = open_destination(f"file://{tmp_path}")
    result = copy_verified(lambda refresh: storage.url, dest, "f.bin",
                           expected_size=len(storage.blob),
                           expected_sha256=hashlib.sha256(storage.blob).hexdigest(),
                           transport=FAST, chunk_size=64 * 1024)
    assert result.size == len(storage.blob)
    assert (tmp_path / "f.bin").read_bytes() == storage.blob
    ranges = [h.get("Range") for h in storage.seen]
    assert ranges[0] is None and len(ranges) == 3
    starts = [int(r[6:-1]) for r in ranges[1:]]  # resumed where the stream broke, never from 0
    assert 0 < starts[0] <= 300_000 < starts[1] <= 500_000
    assert all("Authorization" not in h for h in storage.seen)


def test_copy_starts_over_when_range_is_ignored(storage, tmp_path):
    storage.blob = b"abc" * 100_000
    storage.break_after = [1000]
    storage.honour_range = False
    dest = open_destination(f"file://{tmp_path}")
    copy_verified(lambda refresh: storage.url, dest, "f.bin",
                  expected_size=len(storage.blob),
                  expected_sha256=hashlib.sha256(storage.blob).hexdigest(), transport=FAST)
    assert (tmp_path / "f.bin").read_bytes() == storage.blob
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_checksum_mismatch_removes_the_partial_and_keeps_the_old_file(storage, tmp_path):
    storage.blob = b"tampered" * 1000
    dest = open_destination(f"file://{tmp_path}")
    dest.write_bytes("f.bin", b"previous")
    with pytest.raises(ChecksumMismatchError):
        copy_verified(lambda refresh: storage.url, dest, "f.bin",
                      expected_size=len(storage.blob), expected_sha256="0" * 64, transport=FAST)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]
    assert (tmp_path / "f.bin").read_bytes() == b"previous"


def test_errors_never_show_the_signature(storage, tmp_path):
    storage.blob = b"q" * 10_000
    storage.break_after = [0] * 8  # breaks that move nothing use up the retries
    dest = open_destination(f"file://{tmp_path}")
    refreshed = []
    with pytest.raises(TransferError) as info:
        copy_verified(lambda refresh: refreshed.append(refresh) or storage.url, dest, "f.bin",
                      expected_size=10_000, expected_sha256="0" * 64, transport=FAST)
    assert refreshed == [False, True]  # one more try with a fresh link, then give up
    assert "SECRETSIG" not in str(info.value) and "sig=" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None or \
        "SECRETSIG" not in repr(info.value.__context__)
    assert redact_url(storage.url).endswith("/blob/abc")
    assert list(tmp_path.iterdir()) == []


def test_table_artifact_rows_are_capped_with_failures_first():
    """docs/mirror.md: one row per file, failures first, at most 2000 rows."""
    from crucible.mirror.report import TABLE_ROW_LIMIT, FileResult, MirrorReport

    results = [FileResult("d", f"ok/{i:05d}", "copied", bytes=1) for i in range(2500)]
    results += [FileResult("d", f"bad/{i}", "failed", error="ChecksumMismatch") for i in range(3)]
    table = MirrorReport(destination="memory://x", results=results).table()
    assert TABLE_ROW_LIMIT == 2000 and len(table) == 2000
    assert [r["status"] for r in table[:3]] == ["failed"] * 3 and table[3]["status"] == "copied"


def test_only_breaks_without_progress_use_up_the_retries(storage, tmp_path):
    """docs/client.md: a transfer gives up only after the policy's limit of breaks *without a
    byte moving*; breaks that delivered bytes start the count (and the deadline) again."""
    import io

    from crucible.transfer import copy_url

    storage.blob = bytes(range(256)) * 8
    storage.break_after = [100] * 12  # twelve breaks, each after 100 new bytes; FAST allows 4
    out = io.BytesIO()
    copy_url(storage.url, out, expected_size=len(storage.blob), transport=FAST, chunk_size=50)
    assert out.getvalue() == storage.blob and len(storage.seen) == 13
    storage.seen.clear()
    storage.break_after = [100] + [0] * 10  # after 100 bytes nothing moves: FAST's four tries,
    with pytest.raises(TransferError, match="gave up after 4 tries"):  # counted from the last byte
        copy_url(storage.url, io.BytesIO(), transport=FAST, chunk_size=50)
    assert len(storage.seen) == 4
