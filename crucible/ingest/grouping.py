"""Group companion files so they travel together into one dataset.

``grouping`` is one of:

- ``"stem"`` (default): files in the same folder whose names agree up to the last suffix form one
  group (``img_001.ser`` + ``img_001.emi`` + ``img_001.json``); a sidecar named after a whole file
  name (``img_001.ser.json``) joins that file's group.
- ``"file"``: every file is its own group.
- ``"regex:<pattern>"``: files whose relative path gives the same first capture group (or whole
  match) form one group; files that do not match stay alone. Example for TIA series, where
  ``scan_1.ser`` and ``scan_2.ser`` belong to ``scan.emi``: ``regex:^(.*?)(?:_\\d+)?\\.(?:ser|emi)$``.
"""

from __future__ import annotations

import posixpath
import re
from typing import Callable, Sequence

from .models import FileEntry, FileGroup


class GroupingError(ValueError):
    """The grouping rule is not one of the forms above."""


def _stem_key(entry: FileEntry) -> str:
    folder, name = posixpath.split(entry.rel)
    stem, dot, _ = name.rpartition(".")
    key = stem if dot and stem else name
    return posixpath.join(folder, key) if folder else key


def key_function(grouping: str) -> Callable[[FileEntry], str]:
    """Return the function that maps a file to its group key; raise GroupingError if invalid."""
    if grouping == "stem":
        return _stem_key
    if grouping == "file":
        return lambda entry: entry.rel
    if grouping.startswith("regex:"):
        try:
            pattern = re.compile(grouping[len("regex:"):])
        except re.error as exc:
            raise GroupingError(f"bad grouping regex {grouping!r}: {exc}") from exc

        def regex_key(entry: FileEntry) -> str:
            match = pattern.search(entry.rel)
            if not match:
                return entry.rel
            return match.group(1) if pattern.groups else match.group(0)

        return regex_key
    raise GroupingError(f"grouping must be 'stem', 'file' or 'regex:<pattern>', not {grouping!r}")


def group_files(entries: Sequence[FileEntry], grouping: str = "stem") -> list[FileGroup]:
    """Group ``entries`` by ``grouping``; groups and their files are sorted by relative path."""
    keyf = key_function(grouping)
    groups: dict[str, FileGroup] = {}
    for entry in entries:
        key = keyf(entry)
        groups.setdefault(key, FileGroup(key=key)).files.append(entry)
    if grouping == "stem":
        _merge_full_name_sidecars(groups)
    for group in groups.values():
        group.files.sort(key=lambda e: e.rel)
    return [groups[k] for k in sorted(groups)]


def _merge_full_name_sidecars(groups: dict[str, FileGroup]) -> None:
    """Move ``x.ser.json``'s group (key ``x.ser``) into the group holding the file ``x.ser``."""
    owner = {f.rel: key for key, g in groups.items() for f in g.files}
    for key in list(groups):
        target = owner.get(key)
        if target is not None and target != key and target in groups:
            groups[target].files.extend(groups.pop(key).files)
