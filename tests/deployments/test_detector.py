"""The finished-run detector: sentinel, quiet period, slow growth, rename-on-close (manual clock)."""

from __future__ import annotations

import os
from pathlib import Path

from crucible_prefect.watch.config import InstrumentEntry
from crucible_prefect.watch.detector import RunDetector, list_runs, snapshot_run


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _detector(folder: Path, **over) -> tuple[RunDetector, Clock]:
    clock = Clock()
    entry = InstrumentEntry(name="inst", watch_folder=str(folder), project_id="P1", **over)
    return RunDetector(entry, clock), clock


def _grow(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def test_quiet_period_waits_for_silence(tmp_path):
    det, clock = _detector(tmp_path, finished={"quiet_seconds": 10})
    run = tmp_path / "run1"
    run.mkdir()
    assert det.poll() == []  # an empty folder is never finished
    (run / "a.dat").write_bytes(b"x" * 10)
    assert det.poll() == []  # first sighting of content
    clock.t += 9
    assert det.poll() == []  # quiet, but not long enough
    clock.t += 1
    [done] = det.poll()
    assert (done.instrument, done.path, done.file_count, done.total_bytes) == ("inst", str(run), 1, 10)
    clock.t += 100
    assert det.poll() == []  # reported once per content version


def test_slow_growth_keeps_the_run_open(tmp_path):
    det, clock = _detector(tmp_path, finished={"quiet_seconds": 5})
    run = tmp_path / "run1"
    run.mkdir()
    early = run / "early.dat"
    early.write_bytes(b"")  # created early (Windows-style create at write start)
    det.poll()
    for _ in range(10):  # grows a little every 4 s: never 5 s of silence
        clock.t += 4
        _grow(early, b"y" * 3)
        assert det.poll() == []
    clock.t += 5
    [done] = det.poll()
    assert done.total_bytes == 30


def test_touch_without_growth_counts_as_activity(tmp_path):
    det, clock = _detector(tmp_path, finished={"quiet_seconds": 5})
    run = tmp_path / "run1"
    run.mkdir()
    f = run / "a.dat"
    f.write_bytes(b"abc")
    det.poll()
    clock.t += 4
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # same size, new mtime
    assert det.poll() == []
    clock.t += 4
    assert det.poll() == []
    clock.t += 1
    assert len(det.poll()) == 1


def test_rename_on_close_waits_for_final_name(tmp_path):
    det, clock = _detector(tmp_path, finished={"quiet_seconds": 5})
    run = tmp_path / "run1"
    run.mkdir()
    (run / "done.dat").write_bytes(b"1")
    part = run / "image.tif.part"
    part.write_bytes(b"2" * 100)
    det.poll()
    clock.t += 60  # the writer stalls for a long time with the temp name in place
    assert det.poll() == []  # a busy file keeps the run open however quiet it is
    part.rename(run / "image.tif")
    assert det.poll() == []  # the rename is a change
    clock.t += 5
    [done] = det.poll()
    assert done.file_count == 2 and done.total_bytes == 101


def test_sentinel_finishes_without_waiting(tmp_path):
    det, clock = _detector(tmp_path, finished={"sentinel": ".done", "quiet_seconds": 999})
    run = tmp_path / "run1"
    run.mkdir()
    (run / "a.dat").write_bytes(b"abc")
    det.poll()
    assert det.poll() == []  # stable, but no sentinel yet
    (run / ".done").write_text("")
    [done] = det.poll()
    assert done.file_count == 1  # the sentinel is not data


def test_sentinel_with_a_file_still_changing_waits_one_poll(tmp_path):
    det, clock = _detector(tmp_path, finished={"sentinel": ".done"})
    run = tmp_path / "run1"
    run.mkdir()
    (run / "a.dat").write_bytes(b"abc")
    (run / ".done").write_text("")
    assert det.poll() == []  # first sighting
    _grow(run / "a.dat", b"late flush")
    assert det.poll() == []  # changed since the previous poll
    assert len(det.poll()) == 1


def test_changed_run_is_reported_again(tmp_path):
    det, clock = _detector(tmp_path, finished={"quiet_seconds": 1, "recheck_seconds": 0})
    run = tmp_path / "run1"
    run.mkdir()
    (run / "a.dat").write_bytes(b"a")
    det.poll()
    clock.t += 1
    first = det.poll()[0]
    (run / "b.dat").write_bytes(b"b")
    det.poll()
    clock.t += 1
    second = det.poll()[0]
    assert second.fingerprint != first.fingerprint and second.file_count == 2


def test_files_layout_each_file_is_a_run_with_sibling_sentinel(tmp_path):
    det, clock = _detector(tmp_path, runs="files", finished={"sentinel": ".ok"})
    (tmp_path / "scan1.h5").write_bytes(b"12345")
    (tmp_path / "scan2.h5.part").write_bytes(b"1")
    (tmp_path / "scan1.h5.ok").write_text("")
    assert list_runs(det.entry) == [str(tmp_path / "scan1.h5")]
    det.poll()
    [done] = det.poll()
    assert done.path == str(tmp_path / "scan1.h5") and done.total_bytes == 5
    snap = snapshot_run(det.entry, str(tmp_path / "scan1.h5"))
    assert snap.sentinel and snap.file_count == 1


def test_nested_files_and_vanished_runs(tmp_path):
    det, clock = _detector(tmp_path, finished={"quiet_seconds": 1})
    run = tmp_path / "run1"
    (run / "sub" / "deeper").mkdir(parents=True)
    (run / "sub" / "deeper" / "x.bin").write_bytes(b"xx")
    (run / "top.bin").write_bytes(b"t")
    snap = snapshot_run(det.entry, str(run))
    assert [f[0] for f in snap.files] == ["sub/deeper/x.bin", "top.bin"]
    det.poll()
    os.rename(run, tmp_path / "renamed")
    clock.t += 1
    assert det.poll() == []  # the renamed folder is a new run, seen for the first time
    clock.t += 1
    [done] = det.poll()
    assert done.path == str(tmp_path / "renamed")


def test_folder_written_under_a_temporary_name_is_not_a_run_until_renamed(tmp_path):
    det, clock = _detector(tmp_path, finished={"quiet_seconds": 2})
    staging = tmp_path / "session7.tmp"
    staging.mkdir()
    (staging / "a.dat").write_bytes(b"abc")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x").write_bytes(b"x")
    det.poll()
    clock.t += 10
    assert det.poll() == [] and list_runs(det.entry) == []
    staging.rename(tmp_path / "session7")
    assert det.poll() == []  # the renamed folder is seen for the first time
    clock.t += 2
    [done] = det.poll()
    assert done.path == str(tmp_path / "session7")


def test_announced_runs_are_rechecked_only_every_recheck_seconds(tmp_path):
    det, clock = _detector(tmp_path, finished={"quiet_seconds": 1, "recheck_seconds": 30})
    run = tmp_path / "run1"
    run.mkdir()
    (run / "a.dat").write_bytes(b"a")
    det.poll()
    clock.t += 1
    assert len(det.poll()) == 1
    (run / "late.dat").write_bytes(b"late")  # a late addition after the announcement
    clock.t += 10
    assert det.poll() == []  # not looked at yet
    clock.t += 20
    assert det.poll() == []  # re-checked: a change, the quiet period starts again
    clock.t += 1
    [again] = det.poll()
    assert again.file_count == 2


def test_decisions_say_why_a_run_is_not_finished(tmp_path):
    det, clock = _detector(tmp_path, finished={"quiet_seconds": 10})
    run = tmp_path / "run1"
    run.mkdir()
    snap = lambda: snapshot_run(det.entry, str(run))  # noqa: E731
    assert det.decide(snap(), clock()) == "first sighting"
    assert det.decide(snap(), clock()) == "empty"
    (run / "a.part").write_bytes(b"1")
    assert det.decide(snap(), clock()) == "changed since the last look"
    assert det.decide(snap(), clock()) == "holds a busy (temporary) file"
    (run / "a.part").rename(run / "a.dat")
    det.decide(snap(), clock())
    clock.t += 4
    assert det.decide(snap(), clock()) == "quiet for 4 of 10 s"
    clock.t += 6
    assert det.decide(snap(), clock()) == "finished"
