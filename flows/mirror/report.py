"""Per-file outcomes of a mirror run, their totals, and the Prefect artifacts built from them."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Callable

COPIED, SKIPPED, VERIFIED, DELETED, FAILED = "copied", "skipped", "verified", "deleted", "failed"
TABLE_ROW_LIMIT = 2000  # a table artifact with more rows is unreadable; failures come first


@dataclass(frozen=True)
class FileResult:
    """What happened to one destination path."""

    dataset_id: str
    path: str
    status: str
    bytes: int = 0
    file_id: str | None = None
    error: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class MirrorReport:
    """All results of one run plus the destination it wrote to."""

    destination: str
    results: list[FileResult] = field(default_factory=list)
    listing_calls: int = 0
    seconds: float = 0.0  # the mirror's own work, without the orchestration around it

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(r.status for r in self.results))

    @property
    def bytes_copied(self) -> int:
        return sum(r.bytes for r in self.results if r.status == COPIED)

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.status == FAILED]

    def summary(self) -> dict:
        return {"destination": self.destination, "counts": self.counts,
                "bytes_copied": self.bytes_copied, "listing_calls": self.listing_calls,
                "seconds": round(self.seconds, 3),
                "failed": [r.to_json() for r in self.failed]}

    def table_rows(self) -> list[dict]:
        ordered = sorted(self.results, key=lambda r: (r.status != FAILED, r.dataset_id, r.path))
        return [{"dataset": r.dataset_id, "path": r.path, "status": r.status, "bytes": r.bytes,
                 "error": r.error or ""} for r in ordered[:TABLE_ROW_LIMIT]]

    def markdown(self) -> str:
        counts = self.counts
        lines = [f"# Mirror to `{self.destination}`", "",
                 "| status | files |", "|---|---|"]
        lines += [f"| {k} | {counts.get(k, 0)} |" for k in (COPIED, SKIPPED, VERIFIED, DELETED, FAILED)]
        lines += ["", f"Bytes copied: {self.bytes_copied:,}. Destination listings: {self.listing_calls}."]
        if len(self.results) > TABLE_ROW_LIMIT:
            lines.append(f"The table shows the first {TABLE_ROW_LIMIT} of {len(self.results)} rows, failures first.")
        return "\n".join(lines)


class Progress:
    """Counts finished files; calls ``publish(percent)`` at most every ``interval`` seconds."""

    def __init__(self, publish: Callable[[float], None] | None, interval: float = 1.0) -> None:
        self.publish = publish
        self.interval = interval
        self.total = 0
        self.done = 0
        self._last = 0.0
        self._lock = threading.Lock()

    def add_total(self, n: int) -> None:
        with self._lock:
            self.total += n

    def file_done(self) -> None:
        with self._lock:
            self.done += 1
            now = time.monotonic()
            if self.publish is None or now - self._last < self.interval:
                return
            self._last = now
            percent = self.percent
        self.publish(percent)

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 100.0

    def finish(self) -> None:
        if self.publish is not None:
            self.publish(100.0)
