"""Event delivery against a real Prefect API: confirmed, de-duplicated by id, and loud when down."""

from __future__ import annotations

import datetime as dt
import socket
import time

import pytest

from crucible_prefect.watch.events import (
    EVENT_NAME, DeliveryError, build_event, send_events, stable_event_id,
)

pytestmark = pytest.mark.prefect


def _read_events(event_id: str, attempts: int = 40) -> list:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventIDFilter, EventOccurredFilter

    now = dt.datetime.now(dt.timezone.utc)
    flt = EventFilter(
        id=EventIDFilter(id=[event_id]),
        occurred=EventOccurredFilter(since=now - dt.timedelta(hours=1), until=now + dt.timedelta(hours=1)),
    )
    events: list = []
    with get_client(sync_client=True) as client:
        for _ in range(attempts):  # events are written asynchronously by the server
            events = client.read_events(filter=flt, limit=50).events
            if events:
                break
            time.sleep(0.25)
    return events


def _event(path: str = "/data/r1", **kw) -> dict:
    params = {"path": path, "instrument_name": "inst", "mode": "session", "keywords": ["a"],
              "settle_seconds": 0.0, "scientific_metadata": {"x": {"y": 1}}}
    return build_event(instrument="inst", path=path, file_count=2, total_bytes=7,
                       parameters=params, **kw)


def test_send_is_confirmed_and_readable_back(prefect_backend):
    event = _event(event_id=stable_event_id("inst", "/data/r1", "fp1"))
    send_events([event])
    [stored] = _read_events(event["id"])
    assert stored.event == EVENT_NAME
    assert stored.resource.id == "crucible.instrument.inst"
    assert stored.payload["file_count"] == 2 and stored.payload["parameters"]["keywords"] == ["a"]


def test_resending_the_same_id_is_stored_once(prefect_backend):
    """Read after everything sent is stored (a marker event sent last is readable), so a stored
    duplicate would be seen; the first non-empty read could come before it."""
    from crucible_prefect.testing import read_stored_events

    event = _event("/data/r2", event_id=stable_event_id("inst", "/data/r2", "fp"))
    send_events([event])
    send_events([event])
    stored = read_stored_events(event["id"])
    assert len(stored) == 1
    assert stored[0].payload["path"] == "/data/r2"


def test_api_down_raises_instead_of_dropping(prefect_backend):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{port}/api"}):
        with pytest.raises(DeliveryError, match="did not accept"):
            send_events([_event()])


def test_missing_api_url_is_an_error_not_a_throwaway_server(prefect_backend):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: ""}):
        with pytest.raises(DeliveryError, match="PREFECT_API_URL is not set"):
            send_events([_event()])


def test_watcher_survives_an_outage_with_the_real_api(prefect_backend, tmp_path):
    """Detected while Prefect is unreachable: kept pending, delivered once it is back."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from crucible_prefect.watch.config import parse_config
    from crucible_prefect.watch.ledger import EMITTED, PENDING, Ledger
    from crucible_prefect.watch.watcher import Watcher

    watch = tmp_path / "w"
    watch.mkdir()
    config = parse_config({"instruments": [{"name": "outage", "watch_folder": str(watch),
                                            "finished": {"sentinel": ".done"}, "project_id": "P"}]})
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/api"
    clock = [0.0]
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        watcher = Watcher(config, ledger, clock=lambda: clock[0])
        with temporary_settings(updates={PREFECT_API_URL: dead}):
            watcher.start()
            (watch / "s1").mkdir()
            (watch / "s1" / "a.dat").write_bytes(b"abc")
            (watch / "s1" / ".done").write_text("")
            watcher.poll_once()  # first sighting
            watcher.poll_once()  # finished: recorded, delivery fails
            [row] = list(ledger.rows())
            assert row["status"] == PENDING and row["attempts"] == 1
        clock[0] += 120  # past the back-off; the API is reachable again
        watcher.poll_once()
        [row] = list(ledger.rows())
        assert row["status"] == EMITTED
    [stored] = _read_events(row["event_id"])
    assert stored.payload["path"] == str(watch / "s1")
