"""One progress mechanism for every job: a thread-safe counter that calls back, throttled.

The callback gets ``(done, total)``; the ``crucible`` command draws a bar on a terminal from it,
the Prefect flows update a progress artifact. A failing callback never fails the job, and a slow
one never holds up the work: counts are handed to a short-lived sender thread (the newest count
wins), and only :meth:`Progress.finish` waits for the last one. The first report comes after
``interval``, so a job shorter than that reports once, at the end (for a flow: one API call).
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from typing import Callable

ProgressCallback = Callable[[int, int], None]

log = logging.getLogger("crucible.jobs")


class Progress:
    """Counts finished items; calls ``callback(done, total)`` at most every ``interval`` seconds
    (and always when everything is done)."""

    def __init__(self, callback: ProgressCallback | None = None, total: int = 0, *,
                 interval: float = 1.0) -> None:
        self.callback = callback
        self.total = total
        self.done = 0
        self.interval = interval
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self._call_lock = threading.Lock()  # callbacks in order, never a stale count last
        self._reported = (-1, -1)
        self._pending: tuple[int, int] | None = None
        self._sender: threading.Thread | None = None

    def add_total(self, n: int) -> None:
        with self._lock:
            self.total += n

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
            now = time.monotonic()
            finished = self.done >= self.total
            if self.callback is None or (now - self._last < self.interval and not finished):
                return
            self._last = now
            self._pending = (self.done, self.total)
            if self._sender is None:  # in the advancing thread's context (a flow run's settings)
                self._sender = threading.Thread(target=contextvars.copy_context().run,
                                                args=(self._send,), name="job-progress",
                                                daemon=True)
                self._sender.start()

    def finish(self) -> None:
        """Report the final count (after any count still being sent)."""
        with self._lock:
            self.total = max(self.total, self.done)
            done, total = self.done, self.total
            sender = self._sender
        if sender is not None:
            sender.join()
        self._call(done, total)

    def _send(self) -> None:
        """The sender thread: report the newest pending count until there is none."""
        while True:
            with self._lock:
                pending, self._pending = self._pending, None
                if pending is None:
                    self._sender = None
                    return
            self._call(*pending)

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 100.0

    def _call(self, done: int, total: int) -> None:
        if self.callback is None:
            return
        with self._call_lock:
            if (done, total) <= self._reported:  # a newer count was reported meanwhile
                return
            self._reported = (done, total)
            try:
                self.callback(done, total)
            except Exception as exc:  # progress is a convenience; the job matters more
                log.warning("progress callback failed: %s", exc)
