"""Decide when an instrument run is finished, by polling: a sentinel file or a quiet period.

File-system watchers report when a file is created, not when its writer is done (Windows fires
"created" when writing *starts*), so the detector never trusts a single look. Each poll takes a
snapshot of every run — the sorted (relative path, size, mtime) of all its files — and a run is
finished when:

- **sentinel**: the sentinel file exists and the snapshot did not change since the previous poll;
- **quiet period**: the snapshot has not changed for ``quiet_seconds`` as measured by *our own*
  clock (the first sighting counts as a change, so a restart waits the full period again), the
  run holds at least one file, and no busy file (``*.part``, ``*.tmp``... — rename-on-close
  writers) is present.

A file that grows slowly changes size or mtime at every poll, so it keeps its run open; a file
renamed on close swaps one name for another, which is a change as well.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from crucible import globs

from .config import InstrumentEntry

log = logging.getLogger("crucible.watch")
FINISHED = "finished"


@dataclass(frozen=True)
class Snapshot:
    """What one poll saw of one run."""

    path: str
    files: tuple[tuple[str, int, int], ...]  # (relative path, size, mtime_ns), sorted
    busy: bool
    sentinel: bool

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for rel, size, mtime_ns in self.files:
            digest.update(f"{rel}\0{size}\0{mtime_ns}\n".encode("utf-8", "surrogateescape"))
        return digest.hexdigest()

    @property
    def file_count(self) -> int:
        return len(self.files)

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size, _ in self.files)


@dataclass(frozen=True)
class FinishedRun:
    """A run the detector has just seen finish."""

    instrument: str
    path: str
    fingerprint: str
    file_count: int
    total_bytes: int


def _matches(name: str, patterns: list[str]) -> bool:
    """A file name against busy patterns, in the repository's one glob language."""
    return any(globs.match(pattern, name) for pattern in patterns)


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:  # vanished between listing and stat (a rename in progress)
        return None
    return st.st_size, st.st_mtime_ns


def _walk_files(root: str) -> Iterator[tuple[str, str]]:
    """Yield (relative POSIX path, absolute path) of every regular file below ``root``."""
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(folder, name)
            if os.path.isfile(full):
                yield os.path.relpath(full, root).replace(os.sep, "/"), full


def snapshot_run(entry: InstrumentEntry, run_path: str) -> Snapshot:
    """Snapshot one run (a folder, or a single file) of ``entry``."""
    sentinel_name = entry.finished.sentinel
    files: list[tuple[str, int, int]] = []
    busy = False
    if os.path.isdir(run_path):
        listing = list(_walk_files(run_path))
        sentinel = bool(sentinel_name and os.path.isfile(os.path.join(run_path, sentinel_name)))
    else:
        listing = [(os.path.basename(run_path), run_path)]
        sentinel = bool(sentinel_name and os.path.isfile(run_path + sentinel_name))
    for rel, full in listing:
        if sentinel_name and rel == sentinel_name:
            continue
        if _matches(rel.rsplit("/", 1)[-1], entry.busy_patterns):
            busy = True
        stat = _stat(full)
        if stat is None:
            busy = True
            continue
        files.append((rel, stat[0], stat[1]))
    return Snapshot(path=run_path, files=tuple(sorted(files)), busy=busy, sentinel=sentinel)


def list_runs(entry: InstrumentEntry) -> list[str]:
    """The current runs of ``entry``: its sub-folders, or its files.

    Hidden names and busy names (``session.tmp``) are not runs yet; neither is a sentinel.
    """
    try:
        names = sorted(os.listdir(entry.watch_folder))
    except FileNotFoundError:
        return []
    sentinel = entry.finished.sentinel
    runs = []
    for name in names:
        full = os.path.join(entry.watch_folder, name)
        if name.startswith(".") or _matches(name, entry.busy_patterns):
            continue  # hidden, or still being written under a temporary name (folders too)
        if entry.runs == "folders":
            if os.path.isdir(full):
                runs.append(full)
            continue
        if not os.path.isfile(full):
            continue
        if sentinel and name.endswith(sentinel) and os.path.isfile(full[: -len(sentinel)]):
            continue  # this is another run's sentinel
        runs.append(full)
    return runs


@dataclass
class _Seen:
    fingerprint: str
    changed_at: float
    reported: bool = False
    scanned_at: float = 0.0


@dataclass
class RunDetector:
    """Tracks the runs of one instrument across polls; ``poll()`` returns runs that just finished.

    A run is reported once per fingerprint: when it changes and finishes again it is reported
    again (the caller's ledger decides what was already emitted, across restarts). Runs already
    reported are re-walked only every ``finished.recheck_seconds``, so a folder holding years of
    finished sessions costs little per poll.
    """

    entry: InstrumentEntry
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, _Seen] = field(default_factory=dict)

    def is_finished(self, snap: Snapshot, now: float) -> bool:
        """Apply the entry's rule to a snapshot (updating the per-run change clock)."""
        return self.decide(snap, now) == FINISHED

    def decide(self, snap: Snapshot, now: float) -> str:
        """``FINISHED`` or why not (for ``-vv`` logs); updates the per-run change clock."""
        seen = self._seen.get(snap.path)
        fingerprint = snap.fingerprint
        if seen is None or seen.fingerprint != fingerprint:
            self._seen[snap.path] = _Seen(fingerprint, now)
            return "changed since the last look" if seen else "first sighting"
        rule = self.entry.finished
        if rule.sentinel:
            return FINISHED if snap.sentinel else f"no {rule.sentinel} yet"
        if snap.busy:
            return "holds a busy (temporary) file"
        if not snap.files:
            return "empty"
        quiet = now - seen.changed_at
        return FINISHED if quiet >= rule.quiet_seconds else f"quiet for {quiet:.0f} of {rule.quiet_seconds:g} s"

    def poll(self) -> list[FinishedRun]:
        now = self.clock()
        finished = []
        current = list_runs(self.entry)
        recheck = self.entry.finished.recheck_seconds
        for run_path in current:
            seen = self._seen.get(run_path)
            if seen is not None and seen.reported and now - seen.scanned_at < recheck:
                continue  # announced already: look for late changes only now and then
            snap = snapshot_run(self.entry, run_path)
            decision = self.decide(snap, now)
            if decision != FINISHED:
                log.debug("%s: %s not finished: %s", self.entry.name, run_path, decision)
            elif not self._seen[run_path].reported:
                self._seen[run_path].reported = True
                finished.append(FinishedRun(self.entry.name, run_path, snap.fingerprint,
                                            snap.file_count, snap.total_bytes))
            self._seen[run_path].scanned_at = now
        for gone in set(self._seen) - set(current):
            del self._seen[gone]
        return finished
