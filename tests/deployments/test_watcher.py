"""The watcher loop with its ledger: restarts neither re-emit nor miss runs; outages lose nothing."""

from __future__ import annotations

from pathlib import Path

from crucible_prefect.watch.config import parse_config
from crucible_prefect.watch.events import EVENT_NAME, DeliveryError
from crucible_prefect.watch.ledger import BASELINE, EMITTED, PENDING, Ledger
from crucible_prefect.watch.watcher import Watcher


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Recorder:
    """A stand-in for the Prefect API's POST /events that can be switched off."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.down = False

    def __call__(self, events: list[dict]) -> None:
        if self.down:
            raise DeliveryError("connection refused")
        self.events.extend(events)


def _config(folder: Path, **entry):
    item = {"name": "inst", "watch_folder": str(folder), "finished": {"quiet_seconds": 5},
            "project_id": "P1"}
    item.update(entry)
    return parse_config({"poll_seconds": 1, "instruments": [item]})


def _run(folder: Path, name: str, files: dict[str, bytes]) -> Path:
    run = folder / name
    run.mkdir()
    for rel, data in files.items():
        (run / rel).write_bytes(data)
    return run


def _watcher(config, ledger, send, clock):
    w = Watcher(config, ledger, send=send, clock=clock)
    w.start()
    return w


def test_event_carries_typed_flow_parameters(tmp_path):
    watch = tmp_path / "w"
    watch.mkdir()
    config = _config(watch, keywords=["k1"], scientific_metadata={"a": {"b": 1}})
    clock, rec = Clock(), Recorder()
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        w = _watcher(config, ledger, rec, clock)
        run = _run(watch, "s1", {"a.dat": b"abc", "b.dat": b"de"})
        w.poll_once()
        clock.t += 5
        assert w.poll_once() == 1
    [event] = rec.events
    assert event["event"] == EVENT_NAME
    assert event["resource"]["prefect.resource.id"] == "crucible.instrument.inst"
    payload = event["payload"]
    assert (payload["path"], payload["instrument"], payload["file_count"], payload["bytes"]) == \
        (str(run), "inst", 2, 5)
    params = payload["parameters"]
    assert params["keywords"] == ["k1"] and params["scientific_metadata"] == {"a": {"b": 1}}
    assert params["project_id"] == "P1" and params["settle_seconds"] == 5.0


def test_restart_neither_reemits_nor_misses(tmp_path):
    watch = tmp_path / "w"
    watch.mkdir()
    config = _config(watch)
    ledger_path = tmp_path / "ledger.sqlite"
    rec = Recorder()

    clock = Clock()
    with Ledger(ledger_path) as ledger:
        w = _watcher(config, ledger, rec, clock)
        _run(watch, "done-before-stop", {"a.dat": b"1"})
        w.poll_once()
        clock.t += 5
        w.poll_once()
        _run(watch, "in-progress", {"b.dat": b"2"})
        w.poll_once()
    assert [e["payload"]["path"] for e in rec.events] == [str(watch / "done-before-stop")]

    # While the watcher is down, the second run finishes and a third one is written.
    (watch / "in-progress" / "c.dat").write_bytes(b"3")
    _run(watch, "while-down", {"d.dat": b"4"})

    clock = Clock()  # a new process: a new monotonic clock
    with Ledger(ledger_path) as ledger:
        w = _watcher(config, ledger, rec, clock)
        w.poll_once()
        clock.t += 5
        assert w.poll_once() == 2
        clock.t += 50
        assert w.poll_once() == 0
        statuses = sorted((Path(r["path"]).name, r["status"]) for r in ledger.rows())
    paths = sorted(Path(e["payload"]["path"]).name for e in rec.events)
    assert paths == ["done-before-stop", "in-progress", "while-down"]  # each exactly once
    assert statuses == [("done-before-stop", EMITTED), ("in-progress", EMITTED), ("while-down", EMITTED)]


def test_outage_keeps_events_pending_and_resends_same_id_after_restart(tmp_path):
    watch = tmp_path / "w"
    watch.mkdir()
    config = _config(watch)
    ledger_path = tmp_path / "ledger.sqlite"
    rec = Recorder()
    rec.down = True
    clock = Clock()
    with Ledger(ledger_path) as ledger:
        w = _watcher(config, ledger, rec, clock)
        _run(watch, "s1", {"a.dat": b"1"})
        w.poll_once()
        clock.t += 5
        assert w.poll_once() == 1
        for _ in range(5):  # keeps failing, backs off, never drops the event
            clock.t += 100
            w.poll_once()
        [row] = list(ledger.rows())
        assert row["status"] == PENDING and row["attempts"] >= 3 and "refused" in row["last_error"]
        first_id = row["event_id"]
    assert rec.events == []

    rec.down = False
    with Ledger(ledger_path) as ledger:  # restart: the stored event is re-sent as is
        w = _watcher(config, ledger, rec, Clock())
        w.poll_once()
        [row] = list(ledger.rows())
        assert row["status"] == EMITTED
    [event] = rec.events
    assert event["id"] == first_id
    # stamped at delivery (a fresh event for trigger evaluation), detection time kept
    assert event["occurred"] > event["payload"]["finished_at"]


def test_backoff_grows_while_the_api_is_down(tmp_path):
    watch = tmp_path / "w"
    watch.mkdir()
    rec = Recorder()
    rec.down = True
    clock = Clock()
    with Ledger(tmp_path / "l.sqlite") as ledger:
        w = _watcher(_config(watch), ledger, rec, clock)
        _run(watch, "s1", {"a.dat": b"1"})
        w.poll_once()
        clock.t += 5
        w.poll_once()
        attempts = []
        for _ in range(40):
            clock.t += 1
            w.poll_once()
            attempts.append(list(ledger.rows())[0]["attempts"])
        # 40 s of polling every second: backoff 1, 2, 4, 8, 16 s -> a handful of attempts, not 40
        assert 3 <= attempts[-1] <= 7
        rec.down = False
        clock.t += 60
        w.poll_once()
        assert list(ledger.rows())[0]["status"] == EMITTED


def test_first_start_baselines_finished_runs_unless_backfill(tmp_path):
    import os
    import time

    for backfill, expected in ((False, ["new"]), (True, ["new", "old"])):
        watch = tmp_path / f"w{backfill}"
        watch.mkdir()
        old = _run(watch, "old", {"a.dat": b"1"})
        past = time.time() - 3600
        os.utime(old / "a.dat", (past, past))
        rec, clock = Recorder(), Clock()
        with Ledger(tmp_path / f"l{backfill}.sqlite") as ledger:
            w = _watcher(_config(watch, backfill=backfill), ledger, rec, clock)
            _run(watch, "new", {"b.dat": b"2"})
            w.poll_once()
            clock.t += 5
            w.poll_once()
            rows = {Path(r["path"]).name: r["status"] for r in ledger.rows()}
        assert sorted(Path(e["payload"]["path"]).name for e in rec.events) == expected
        if not backfill:
            assert rows["old"] == BASELINE


def test_crash_after_delivery_resends_the_same_event_id(tmp_path):
    """Killed between Prefect's confirmation and the ledger update: the re-send is a duplicate
    by id, which Prefect drops (see test_events.test_resending_the_same_id_is_stored_once)."""
    watch = tmp_path / "w"
    watch.mkdir()
    config = _config(watch)
    ledger_path = tmp_path / "ledger.sqlite"
    delivered: list[dict] = []

    def send_then_die(events):
        delivered.extend(events)
        raise KeyboardInterrupt  # the process dies before mark_emitted

    clock = Clock()
    with Ledger(ledger_path) as ledger:
        w = _watcher(config, ledger, send_then_die, clock)
        _run(watch, "s1", {"a.dat": b"1"})
        w.poll_once()
        clock.t += 5
        try:
            w.poll_once()
        except KeyboardInterrupt:
            pass
    rec = Recorder()
    with Ledger(ledger_path) as ledger:
        _watcher(config, ledger, rec, Clock()).poll_once()
        assert [r["status"] for r in ledger.rows()] == [EMITTED]
    assert [e["id"] for e in rec.events] == [e["id"] for e in delivered]


def test_ledger_records_each_run_version_once(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as ledger:
        assert ledger.first_start("a") and not ledger.first_start("a")
        event = {"id": "e1", "payload": {}}
        assert ledger.add_pending("a", "/p", "f1", event, 1, 2)
        assert not ledger.add_pending("a", "/p", "f1", event, 1, 2)
        assert ledger.known("a", "/p", "f1") and not ledger.known("a", "/p", "f2")
    with Ledger(tmp_path / "l.sqlite") as ledger:  # durable across reopen
        [item] = ledger.pending()
        assert (item.path, item.event["id"], item.attempts) == ("/p", "e1", 0)
        ledger.mark_failed(item, "boom")
        ledger.mark_emitted(item)
        assert ledger.pending() == []
        [row] = list(ledger.rows("a"))
        assert row["status"] == EMITTED and row["attempts"] == 2 and row["last_error"] is None
