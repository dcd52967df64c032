"""The job protocol every engine shares: runners, reports, the failure type, progress."""

from __future__ import annotations

import pickle
import threading

import pytest

from crucible.jobs import JobFailed, JobReport, Progress, Row, ThreadRunner, UnitFailure, run_job


class Report(JobReport):
    rows: list[Row] = []

    def all_rows(self):
        return self.rows


class Squares:
    """A toy job: unit n -> n*n, unit 3 raises."""

    def __init__(self, units):
        self.units, self.report, self.closed = units, Report(), 0

    def plan(self):
        return self.units

    def run_unit(self, client, n):
        assert client == "client"
        if n == 3:
            raise ValueError("three is bad")
        return n * n

    def unit_name(self, n):
        return f"unit {n}"

    def add_result(self, n, result):
        if isinstance(result, UnitFailure):
            self.report.rows.append(Row(status="failed", reason=result.message))
        else:
            self.report.rows.append(Row(status="done", reason=str(result)))

    def finish(self):
        return self.report

    def close(self):
        self.closed += 1


@pytest.mark.parametrize("workers", [1, 4])
def test_a_failing_unit_is_reported_and_the_others_finish(workers):
    report = run_job(Squares([1, 2, 3, 4]), ThreadRunner("client", max_workers=workers))
    assert sorted(r.reason for r in report.rows if r.status == "done") == ["1", "16", "4"]
    assert [r.reason for r in report.bad_rows] == ["ValueError: three is bad"]
    assert not report.ok and report.counts == {"done": 3, "failed": 1}
    assert "1 failed" in report.summary_text()


def test_run_job_closes_the_job_when_something_raises():
    job = Squares([1])
    job.add_result = lambda n, r: (_ for _ in ()).throw(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        run_job(job, ThreadRunner("client"))
    assert job.closed == 1


def test_failure_carries_and_pickles_its_report():
    report = Report(rows=[Row(status="failed", reason="disk full")], errors=["no access"])
    failure = pickle.loads(pickle.dumps(JobFailed(report)))
    assert failure.report == report
    assert "no access" in str(failure) and "disk full" in str(failure)


def test_progress_calls_back_throttled_and_survives_a_broken_callback():
    seen = []
    progress = Progress(lambda done, total: seen.append((done, total)), total=100, interval=3600)
    threads = [threading.Thread(target=lambda: [progress.advance() for _ in range(25)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    progress.finish()  # waits for the counts still being sent
    assert seen[-1] == (100, 100) and len(seen) == 1  # throttled: only the last
    assert seen == sorted(seen)  # never a stale count after a newer one
    broken = Progress(lambda d, t: 1 / 0, total=1)
    broken.advance()  # logged, not raised
    broken.finish()
    assert broken.done == 1


def test_progress_never_holds_up_the_work():
    release, seen = threading.Event(), []

    def slow(done, total):
        release.wait(5)
        seen.append((done, total))

    progress = Progress(slow, total=3, interval=0)
    for _ in range(3):
        progress.advance()  # returns although the callback blocks
    assert progress.done == 3 and seen == []
    release.set()
    progress.finish()
    assert seen[-1] == (3, 3) and seen == sorted(seen)


def test_progress_callbacks_run_in_the_context_of_the_advancing_thread():
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="none")
    seen = []
    progress = Progress(lambda done, total: seen.append(var.get()), total=1, interval=0)
    var.set("flow run")
    progress.advance()
    progress.finish()
    assert seen == ["flow run"]
