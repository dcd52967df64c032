"""The long-running watcher: poll instrument folders, record finished runs, deliver their events.

Order of work per finished run: (1) write it to the ledger as ``pending`` with its complete event,
(2) post the event, (3) mark it ``emitted`` once Prefect confirmed. A crash between any two steps
loses nothing: pending rows are re-sent at the next start, and a re-send after (2) carries the same
event id, which Prefect de-duplicates. While the Prefect API is down, delivery backs off
exponentially (1 s doubling to ``max_backoff``) and detection keeps running.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable

from .config import InstrumentEntry, WatchConfig
from .detector import FinishedRun, RunDetector, list_runs, snapshot_run
from .events import DeliveryError, at_delivery, build_event, send_events, stable_event_id
from .ledger import Ledger

log = logging.getLogger("crucible.watch")

Sender = Callable[[list[dict]], None]


def event_for(entry: InstrumentEntry, run: FinishedRun) -> dict:
    """The event announcing one finished run version of ``entry``."""
    return build_event(
        instrument=entry.name,
        path=run.path,
        file_count=run.file_count,
        total_bytes=run.total_bytes,
        parameters=entry.flow_parameters(run.path),
        event_id=stable_event_id(entry.name, run.path, run.fingerprint),
    )


class Watcher:
    """Watch every instrument of ``config``; keep state in ``ledger``; deliver with ``send``."""

    def __init__(self, config: WatchConfig, ledger: Ledger, *, send: Sender = send_events,
                 clock: Callable[[], float] = time.monotonic, max_backoff: float = 60.0):
        self.config = config
        self.ledger = ledger
        self.send = send
        self.clock = clock
        self.max_backoff = max_backoff
        self.detectors = [RunDetector(entry, clock) for entry in config.instruments]
        self._backoff = 0.0
        self._next_delivery = 0.0
        self._started = False

    # --- start-up ----------------------------------------------------------------------------
    def start(self) -> None:
        """Register instruments; on an instrument's first start, baseline runs already finished."""
        for entry in self.config.instruments:
            if not os.path.isdir(entry.watch_folder):
                log.warning("%s: watch_folder %s does not exist (yet); will keep looking",
                            entry.name, entry.watch_folder)
            if self.ledger.first_start(entry.name) and not entry.backfill:
                self._baseline(entry)
        pending = self.ledger.pending()
        if pending:
            log.info("resuming delivery of %d pending event(s) from the ledger", len(pending))
        self._started = True

    def _baseline(self, entry: InstrumentEntry) -> None:
        now = time.time()
        count = 0
        for run_path in list_runs(entry):
            snap = snapshot_run(entry, run_path)
            if entry.finished.sentinel:
                done = snap.sentinel
            else:
                newest = max((m for _, _, m in snap.files), default=None)
                done = (not snap.busy and newest is not None
                        and now - newest / 1e9 >= entry.finished.quiet_seconds)
            if done:
                self.ledger.add_baseline(entry.name, run_path, snap.fingerprint,
                                         snap.file_count, snap.total_bytes)
                count += 1
        if count:
            log.info("%s: first start, %d run(s) already finished are not emitted (backfill: false)",
                     entry.name, count)

    # --- one cycle ---------------------------------------------------------------------------
    def poll_once(self) -> int:
        """Scan once and try to deliver; return how many new finished runs were recorded."""
        if not self._started:
            self.start()
        recorded = 0
        for detector in self.detectors:
            entry = detector.entry
            try:
                finished = detector.poll()
            except OSError as exc:
                log.warning("%s: cannot scan %s: %s", entry.name, entry.watch_folder, exc)
                continue
            for run in finished:
                if self.ledger.known(entry.name, run.path, run.fingerprint):
                    continue
                if self.ledger.add_pending(entry.name, run.path, run.fingerprint,
                                           event_for(entry, run), run.file_count, run.total_bytes):
                    recorded += 1
                    log.info("%s: run finished: %s (%d files, %d bytes)",
                             entry.name, run.path, run.file_count, run.total_bytes)
        if recorded:
            self._next_delivery = 0.0  # new work: try now even if we were backing off
        self.deliver_pending()
        return recorded

    def deliver_pending(self) -> int:
        """Send pending events in order until one fails; return how many were confirmed."""
        now = self.clock()
        if now < self._next_delivery:
            return 0
        delivered = 0
        for item in self.ledger.pending():
            try:
                self.send([at_delivery(item.event)])
            except DeliveryError as exc:
                self.ledger.mark_failed(item, str(exc))
                self._backoff = min(self.max_backoff, max(1.0, self._backoff * 2))
                self._next_delivery = self.clock() + self._backoff
                log.warning("event for %s not delivered (attempt %d), retrying in %.0f s: %s",
                            item.path, item.attempts + 1, self._backoff, exc)
                break
            self.ledger.mark_emitted(item)
            delivered += 1
            self._backoff = 0.0
            log.info("%s: event %s delivered for %s", item.instrument, item.event["id"], item.path)
        return delivered

    def run(self, stop: threading.Event | None = None) -> None:
        """Poll every ``poll_seconds`` until ``stop`` is set (or forever)."""
        stop = stop or threading.Event()
        self.start()
        names = ", ".join(e.name for e in self.config.instruments)
        log.info("watching %s every %.1f s; ledger %s", names, self.config.poll_seconds,
                 self.ledger.path)
        while not stop.is_set():
            self.poll_once()
            stop.wait(self.config.poll_seconds)
