"""The watcher's durable memory: which runs were seen finished, and whether their event got through.

A small SQLite file (stdlib, atomic commits, survives power loss). A run version is keyed by
(instrument, path, fingerprint) and moves ``pending`` → ``emitted``; runs that were already
finished when an instrument was first watched are stored as ``baseline`` (never emitted). On
restart the watcher re-sends every ``pending`` row with its stored event (same id, so Prefect
drops a copy it already has) and skips everything else, so a restart neither re-emits nor misses.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

PENDING, EMITTED, BASELINE = "pending", "emitted", "baseline"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    instrument  TEXT NOT NULL,
    path        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      TEXT NOT NULL,
    event_id    TEXT,
    event       TEXT,
    file_count  INTEGER,
    bytes       INTEGER,
    detected_at REAL NOT NULL,
    emitted_at  REAL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    PRIMARY KEY (instrument, path, fingerprint)
);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
CREATE TABLE IF NOT EXISTS instruments (
    name       TEXT PRIMARY KEY,
    first_seen REAL NOT NULL
);
"""


@dataclass(frozen=True)
class PendingEvent:
    """A finished run whose event still has to be delivered."""

    instrument: str
    path: str
    fingerprint: str
    event: dict[str, Any]
    attempts: int


class Ledger:
    """Open (creating if needed) the ledger at ``path``; use as a context manager or call close()."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- instruments -------------------------------------------------------------------------
    def first_start(self, instrument: str) -> bool:
        """Record that ``instrument`` is watched; True only the very first time."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO instruments (name, first_seen) VALUES (?, ?)", (instrument, time.time())
        )
        return cur.rowcount == 1

    # --- runs --------------------------------------------------------------------------------
    def known(self, instrument: str, path: str, fingerprint: str) -> bool:
        """True if this exact run version is already recorded (in any status)."""
        row = self._db.execute(
            "SELECT 1 FROM runs WHERE instrument=? AND path=? AND fingerprint=?",
            (instrument, path, fingerprint),
        ).fetchone()
        return row is not None

    def add_baseline(self, instrument: str, path: str, fingerprint: str,
                     file_count: int, total_bytes: int) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO runs (instrument, path, fingerprint, status, file_count, bytes,"
            " detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (instrument, path, fingerprint, BASELINE, file_count, total_bytes, time.time()),
        )

    def add_pending(self, instrument: str, path: str, fingerprint: str, event: dict[str, Any],
                    file_count: int, total_bytes: int) -> bool:
        """Record a finished run and the event to send; False if it was already recorded."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO runs (instrument, path, fingerprint, status, event_id, event,"
            " file_count, bytes, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (instrument, path, fingerprint, PENDING, str(event["id"]), json.dumps(event),
             file_count, total_bytes, time.time()),
        )
        return cur.rowcount == 1

    def pending(self) -> list[PendingEvent]:
        rows = self._db.execute(
            "SELECT instrument, path, fingerprint, event, attempts FROM runs WHERE status=?"
            " ORDER BY detected_at", (PENDING,),
        ).fetchall()
        return [PendingEvent(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

    def mark_emitted(self, item: PendingEvent) -> None:
        self._db.execute(
            "UPDATE runs SET status=?, emitted_at=?, attempts=attempts+1, last_error=NULL"
            " WHERE instrument=? AND path=? AND fingerprint=?",
            (EMITTED, time.time(), item.instrument, item.path, item.fingerprint),
        )

    def mark_failed(self, item: PendingEvent, error: str) -> None:
        self._db.execute(
            "UPDATE runs SET attempts=attempts+1, last_error=? WHERE instrument=? AND path=?"
            " AND fingerprint=?",
            (error[:500], item.instrument, item.path, item.fingerprint),
        )

    def rows(self, instrument: str | None = None) -> Iterator[dict[str, Any]]:
        """Every recorded run version (for ``crucible watch --status`` and tests)."""
        sql = ("SELECT instrument, path, fingerprint, status, event_id, file_count, bytes, attempts,"
               " last_error FROM runs")
        args: tuple[Any, ...] = ()
        if instrument is not None:
            sql += " WHERE instrument=?"
            args = (instrument,)
        keys = ("instrument", "path", "fingerprint", "status", "event_id", "file_count", "bytes",
                "attempts", "last_error")
        for row in self._db.execute(sql + " ORDER BY detected_at", args):
            yield dict(zip(keys, row))
