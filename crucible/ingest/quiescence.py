"""Hold back files an instrument may still be writing.

Two checks, both cheap: (1) before anything is read, a group whose files were modified within
``settle_seconds`` waits for a later run; (2) after a file has been hashed, it is stat'ed again and
a changed size or mtime means it grew while we read it, so it is held back too. A group is held
back as a whole, so a ``.ser`` never leaves without its ``.emi``.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

from .discovery import info_mtime
from .models import FileEntry, FileGroup


def unsettled_reason(group: FileGroup, settle_seconds: float, now: float | None = None) -> str | None:
    """Why ``group`` is not yet quiet (a sentence naming the newest file), or None if it is."""
    if settle_seconds <= 0:
        return None
    now = time.time() if now is None else now
    fresh = [f for f in group.files if f.mtime is not None and now - f.mtime < settle_seconds]
    if not fresh:
        return None
    newest = max(fresh, key=lambda f: f.mtime or 0.0)
    age = max(0.0, now - (newest.mtime or now))
    return (f"still being written: {newest.rel} modified {age:.0f}s ago "
            f"(settle_seconds={settle_seconds:g}); a later run will pick it up")


def split_settled(
    groups: Sequence[FileGroup], settle_seconds: float, now: float | None = None
) -> tuple[list[FileGroup], list[tuple[FileGroup, str]]]:
    """Split groups into (ready, [(held group, reason)])."""
    now = time.time() if now is None else now
    ready, held = [], []
    for group in groups:
        reason = unsettled_reason(group, settle_seconds, now)
        if reason is None:
            ready.append(group)
        else:
            held.append((group, reason))
    return ready, held


def changed_reason(fs: Any, entry: FileEntry) -> str | None:
    """Stat ``entry`` again; a sentence if its size or mtime differ from discovery, else None."""
    try:
        info = fs.info(entry.path)
    except FileNotFoundError:
        return f"vanished while being read: {entry.rel}"
    size = int(info.get("size") or 0)
    mtime = info_mtime(info)
    if size != entry.size or (entry.mtime is not None and mtime is not None and mtime != entry.mtime):
        return (f"still being written: {entry.rel} changed while it was read "
                f"({entry.size} -> {size} bytes); a later run will pick it up")
    return None
