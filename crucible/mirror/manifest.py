"""The destination's manifest: what the mirror wrote (path, size, sha256), kept durably.

Layout under ``<root>/.crucible-mirror/``:

* ``manifest.json`` — the compacted state, with a generation number ``gen``.
* ``journal/<gen>-<time>-<run>-<seq>.json`` — small segments written while a run progresses
  (every few files or every second), so an interrupted mirror knows what already finished.

A run that loaded generation G journals at G+1 and compacts into ``manifest.json`` at G+1 when
it ends, then deletes the segments it folded in. Segments of an older generation are already in
``manifest.json`` and are ignored, so a crash between the compaction and the clean-up is harmless.
Whole-object writes only, so it works on object stores that cannot append.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

from typing import Iterator, NamedTuple

from .destination import Destination
from .paths import RESERVED_DIR

MANIFEST_NAME = f"{RESERVED_DIR}/manifest.json"
JOURNAL_DIR = f"{RESERVED_DIR}/journal"
FORMAT = "crucible-mirror-manifest/1"


class Entry(NamedTuple):
    """One mirrored file: where, how big, its sha256, and which Crucible file it copies."""

    path: str
    size: int
    sha256: str
    dataset_id: str | None = None
    file_id: str | None = None

    def to_json(self) -> dict:
        return self._asdict()


class Manifest:
    """Thread-safe manifest with a write-ahead journal; see the module docstring."""

    def __init__(self, dest: Destination, *, flush_every: int = 64, flush_seconds: float = 1.0):
        self.dest = dest
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self.entries: dict[str, Entry] = {}
        self.generation = 0
        self._run = uuid.uuid4().hex[:10]
        self._seq = 0
        self._pending: list[dict] = []
        self._last_flush = time.monotonic()
        self._loaded_segments: list[str] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    # -- loading -------------------------------------------------------------------------
    def load(self) -> "Manifest":
        """Read ``manifest.json`` and replay newer journal segments (one listing)."""
        try:
            doc = json.loads(self.dest.read_bytes(MANIFEST_NAME))
        except FileNotFoundError:
            doc = {"gen": 0, "files": []}
        if doc.get("format", FORMAT) != FORMAT:
            raise ValueError(f"unsupported manifest format {doc.get('format')!r} at {self.dest.url}")
        self.generation = int(doc.get("gen", 0))
        for item in doc.get("files", []):
            self._apply(item)
        for name in sorted(self.dest.listing(JOURNAL_DIR)):
            if not name.endswith(".json"):
                continue
            rel = f"{JOURNAL_DIR}/{name}"
            self._loaded_segments.append(rel)
            if _segment_generation(name) <= self.generation:
                continue  # already folded into manifest.json
            try:
                records = json.loads(self.dest.read_bytes(rel))
            except (FileNotFoundError, ValueError):
                continue  # a segment that never completed carries nothing we can trust
            for item in records:
                self._apply(item)
        self._flusher = threading.Thread(target=self._flush_loop, name="mirror-manifest",
                                         daemon=True)
        self._flusher.start()
        return self

    def _flush_loop(self) -> None:
        """Flush pending changes at least every ``flush_seconds``, even while copies are long."""
        while not self._stop.wait(self.flush_seconds):
            if self._pending:
                try:
                    self.flush()
                except Exception:  # the next change or compact() tries again and raises
                    pass

    def _apply(self, item: dict) -> None:
        if item.get("deleted"):
            self.entries.pop(item["path"], None)
        else:
            entry = Entry(path=item["path"], size=int(item["size"]), sha256=item["sha256"],
                          dataset_id=item.get("dataset_id"), file_id=item.get("file_id"))
            self.entries[entry.path] = entry

    # -- queries -------------------------------------------------------------------------
    def get(self, path: str) -> Entry | None:
        with self._lock:
            return self.entries.get(path)

    def for_dataset(self, dataset_id: str) -> Iterator[Entry]:
        with self._lock:
            return iter([e for e in self.entries.values() if e.dataset_id == dataset_id])

    # -- updates -------------------------------------------------------------------------
    def record(self, entry: Entry) -> None:
        self._change(entry.to_json())

    def forget(self, path: str) -> None:
        self._change({"path": path, "deleted": True})

    def _change(self, item: dict) -> None:
        with self._lock:
            self._apply(item)
            self._pending.append(item)
            due = (len(self._pending) >= self.flush_every
                   or time.monotonic() - self._last_flush >= self.flush_seconds)
        if due:
            self.flush()

    def flush(self) -> None:
        """Write pending changes as one journal segment (durable once this returns)."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, []
                self._last_flush = time.monotonic()
                self._seq += 1
                seq = self._seq
            if not batch:
                return
            name = (f"{JOURNAL_DIR}/{self.generation + 1:08d}-{time.time_ns():020d}-"
                    f"{self._run}-{seq:06d}.json")
            try:
                self.dest.write_bytes(name, json.dumps(batch).encode())
            except BaseException:
                with self._lock:
                    self._pending[:0] = batch  # keep them for the next try
                raise
            self._loaded_segments.append(name)

    def close(self) -> None:
        """Stop the background flusher and write what is pending, without compacting.

        For a mirror that works on part of a run in another process (a Dask task): its
        segments are journaled at the run's generation and folded in by the run's own
        manifest (``compact(absorb=True)``).
        """
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join()
        self.flush()

    def compact(self, *, absorb: bool = False) -> None:
        """Fold everything into ``manifest.json`` (next generation) and drop the journal.

        ``absorb``: first read the segments other processes journaled for this generation
        (one more listing of the journal), so their files are folded in too.
        """
        self.close()
        if absorb:
            self._absorb()
        with self._flush_lock:
            with self._lock:
                files = [e.to_json() for _, e in sorted(self.entries.items())]
                generation = self.generation + 1
            doc = {"format": FORMAT, "gen": generation, "files": files}
            self.dest.write_bytes(MANIFEST_NAME, json.dumps(doc, indent=0).encode())
            self.generation = generation
            for rel in self._loaded_segments:
                self.dest.remove(rel)
            self._loaded_segments = []


    def _absorb(self) -> None:
        """Apply this generation's journal segments written by other processes (in name order)."""
        mine = set(self._loaded_segments)
        for name in sorted(self.dest.listing(JOURNAL_DIR, refresh=True)):
            rel = f"{JOURNAL_DIR}/{name}"
            if not name.endswith(".json") or rel in mine:
                continue
            self._loaded_segments.append(rel)
            if _segment_generation(name) != self.generation + 1:
                continue  # older: already in manifest.json
            try:
                records = json.loads(self.dest.read_bytes(rel))
            except (FileNotFoundError, ValueError):
                continue
            with self._lock:
                for item in records:
                    self._apply(item)


def _segment_generation(name: str) -> int:
    try:
        return int(name.split("-", 1)[0])
    except ValueError:
        return 0
