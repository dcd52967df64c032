"""Small terminal helpers for the ``crucible`` commands: a progress bar and plain-text tables.

Standard library only. The progress bar draws on a terminal only (``isatty``) so logs and pipes
never get carriage returns; tables are plain, left-aligned columns with long cells shortened.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any, Iterable, Sequence

__all__ = ["ProgressBar", "format_table", "shorten"]


class ProgressBar:
    """A ``(done, total) -> None`` callback drawing one line on ``stream`` (stderr).

    Safe to call from worker threads. Disabled (does nothing) unless ``stream`` is a terminal,
    or ``enabled`` says otherwise. Call :meth:`close` at the end to finish the line.
    """

    def __init__(self, label: str, unit: str = "items", *, stream: IO[str] | None = None,
                 enabled: bool | None = None, width: int = 28) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.label = label
        self.unit = unit
        self.width = width
        self.start = time.monotonic()
        self._lock = threading.Lock()
        self._drawn = False
        self._last_len = 0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        fraction = min(done / total, 1.0) if total else 1.0
        filled = int(round(self.width * fraction))
        elapsed = time.monotonic() - self.start
        line = (f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{done}/{total} {self.unit} {100 * fraction:3.0f}%  {_duration(elapsed)}")
        with self._lock:
            pad = " " * max(self._last_len - len(line), 0)
            self.stream.write("\r" + line + pad)
            self.stream.flush()
            self._drawn = True
            self._last_len = len(line)

    def close(self) -> None:
        """End the bar's line (only if something was drawn)."""
        with self._lock:
            if self._drawn:
                self.stream.write("\n")
                self.stream.flush()
                self._drawn = False


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60:d}:{seconds % 60:02d}"
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def shorten(value: Any, limit: int) -> str:
    """``value`` as one line of at most ``limit`` characters (``…`` marks a cut)."""
    text = "" if value is None else str(value)
    text = " ".join(text.split()) if ("\n" in text or "\r" in text or "\t" in text) else text
    if limit > 0 and len(text) > limit:
        return text[: max(limit - 1, 0)] + "…"
    return text


def format_table(rows: Iterable[dict], columns: Sequence[str] | None = None, *,
                 headers: dict[str, str] | None = None, max_width: int = 48,
                 wide: Sequence[str] = (), wide_width: int = 100,
                 right: Sequence[str] = ()) -> str:
    """Rows (dicts) as aligned text columns with a header line; ``""`` for no rows.

    ``columns`` picks and orders the keys (default: the first row's). Cells are shortened to
    ``max_width`` (``wide_width`` for the ``wide`` columns); ``right`` columns are right-aligned.
    """
    rows = list(rows)
    if not rows:
        return ""
    columns = list(columns or rows[0].keys())
    headers = headers or {}
    cells = [[shorten(row.get(c), wide_width if c in wide else max_width) for c in columns]
             for row in rows]
    titles = [headers.get(c, c) for c in columns]
    widths = [max([len(t)] + [len(r[i]) for r in cells]) for i, t in enumerate(titles)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if c in right else v.ljust(w)
                 for c, v, w in zip(columns, values, widths)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(titles)] + [line(r) for r in cells])
