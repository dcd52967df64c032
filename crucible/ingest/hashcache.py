"""A small local ledger of file digests, so an unchanged file is read once, ever.

Keyed by (filesystem protocol, path, size, mtime): the same rule rsync uses to skip files. A hit
saves re-reading the file on a re-run. A stale hit needs a file rewritten in place with the same
size and the same mtime (the bet rsync makes too); new uploads are still checked byte for byte
by the server at completion. Filesystems that report no mtime are never cached.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from .models import FileEntry

_SCHEMA = """CREATE TABLE IF NOT EXISTS digests (
    fs TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, mtime REAL NOT NULL,
    sha256 TEXT NOT NULL, PRIMARY KEY (fs, path))"""


def default_cache_path() -> Path:
    """``$CRUCIBLE_PREFECT_CACHE_DIR`` or ``~/.cache/crucible-prefect``, plus ``digests.sqlite``."""
    base = os.environ.get("CRUCIBLE_PREFECT_CACHE_DIR") or (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "crucible-prefect")
    return Path(base) / "digests.sqlite"


class DigestCache:
    """Thread-safe sha256 ledger; ``path=None`` disables it (every lookup misses)."""

    def __init__(self, path: str | Path | None):
        self._path = Path(path) if path else None
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        if self._path is not None:
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                self._conn = sqlite3.connect(str(self._path), timeout=30, check_same_thread=False)
                # A cache: losing the last entries in a power cut only costs a re-read.
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=OFF")
                self._conn.execute(_SCHEMA)
                self._conn.commit()
            except (OSError, sqlite3.Error):
                self._conn = None  # a cache that cannot open is just a slower run

    def __getstate__(self) -> dict:
        """Pickles as its path (Dask ships task arguments); the copy opens its own connection."""
        return {"path": self._path}

    def __setstate__(self, state: dict) -> None:
        DigestCache.__init__(self, state["path"])

    def get(self, protocol: str, entry: FileEntry) -> str | None:
        if self._conn is None or entry.mtime is None:
            return None
        with self._lock:
            try:
                row = self._conn.execute(
                    "SELECT sha256 FROM digests WHERE fs=? AND path=? AND size=? AND mtime=?",
                    (protocol, entry.path, entry.size, entry.mtime)).fetchone()
            except sqlite3.Error:
                return None
        return row[0] if row else None

    def put(self, protocol: str, entry: FileEntry, sha256: str) -> None:
        if self._conn is None or entry.mtime is None:
            return
        with self._lock:
            try:
                self._conn.execute(
                    "INSERT OR REPLACE INTO digests (fs, path, size, mtime, sha256) VALUES (?,?,?,?,?)",
                    (protocol, entry.path, entry.size, entry.mtime, sha256))
                self._conn.commit()
            except sqlite3.Error:
                pass

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
