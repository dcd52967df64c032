"""The one glob language of this repository: ``crucible download``, ingest, mirror and the watcher.

Patterns are matched against POSIX relative paths (``run7/raw/scan_001.ser``):

- a pattern **without** ``/`` matches the file name (``*.ser`` selects ``run7/raw/scan_001.ser``);
  in an *exclude* list it also matches any folder name on the way, so ``.*`` skips hidden
  folders and ``tmp`` skips everything below a ``tmp`` folder;
- a pattern **with** ``/`` matches the whole relative path; ``*``, ``?`` and ``[...]`` stay
  inside one folder level, ``**/`` spans any number of levels (``raw/**/*.ser`` selects
  ``raw/a.ser`` and ``raw/x/y/a.ser``; ``raw/*.ser`` only the first);
- matching is case-sensitive; ``[!abc]`` negates a class.

A file is selected when it matches any include pattern (no include: every file) and no exclude
pattern. See docs/globs.md.
"""

from __future__ import annotations

import functools
import re
from fnmatch import fnmatchcase
from typing import Iterable

__all__ = ["match", "patterns", "select"]


@functools.lru_cache(maxsize=512)
def _path_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            j = pattern.find("]", i + 1) if pattern[i] == "[" else -1
            if j > 0:
                out.append(_char_class(pattern[i:j + 1]))
                i = j + 1
            else:
                out.append(re.escape(pattern[i]))
                i += 1
    return re.compile("".join(out) + r"\Z")


def _char_class(cls: str) -> str:
    """``[!abc]`` -> ``[^/abc]`` (a class never matches '/'); other classes pass through."""
    body = cls[1:-1]
    if body.startswith("!"):
        body = "^/" + body[1:]
    return "[" + body.replace("\\", "\\\\") + "]"


def match(pattern: str, rel: str, *, folders: bool = False) -> bool:
    """Does ``pattern`` match the relative path ``rel``? ``folders``: a pattern without '/'
    also matches folder names on the way (how exclude lists use it)."""
    if "/" in pattern:
        return _path_regex(pattern).match(rel) is not None
    parts = rel.split("/")
    names = parts if folders else parts[-1:]
    return any(fnmatchcase(name, pattern) for name in names)


def patterns(value: str | Iterable[str] | None) -> list[str]:
    """A pattern list from None, one pattern, or several (a string is one pattern)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def select(rel: str, include: str | Iterable[str] | None = None,
           exclude: str | Iterable[str] | None = None, *, also: Iterable[str] = ()) -> bool:
    """True if ``rel`` (or one of the alternative names in ``also``) matches an include pattern
    (none given: all) and neither matches an exclude pattern."""
    names = [rel, *also]
    inc, exc = patterns(include), patterns(exclude)
    if inc and not any(match(p, n) for p in inc for n in names):
        return False
    return not any(match(p, n, folders=True) for p in exc for n in names)
