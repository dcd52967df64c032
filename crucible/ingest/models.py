"""Plain data types shared by the ingest pieces: a discovered file and a group of companions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

#: Suffixes that describe another file rather than being data themselves (never a group's main file).
SIDECAR_SUFFIXES = frozenset({".json", ".xml", ".txt", ".yaml", ".yml", ".md", ".emi"})


@dataclass(frozen=True)
class FileEntry:
    """One file as discovery saw it.

    ``path`` is the path inside the fsspec filesystem, ``rel`` the POSIX path relative to the
    run's root (what the dataset records and what identity uses), ``mtime`` is seconds since the
    epoch or None when the filesystem does not report one, ``regular`` is False for anything that
    is not a plain readable file (dangling links, devices, ...).
    """

    path: str
    rel: str
    size: int
    mtime: float | None = None
    regular: bool = True

    @property
    def name(self) -> str:
        return PurePosixPath(self.rel).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.rel).suffix.lower()


@dataclass
class FileGroup:
    """Files that travel together into one dataset (e.g. ``x.ser`` with ``x.emi`` and ``x.json``)."""

    key: str
    files: list[FileEntry] = field(default_factory=list)

    @property
    def main(self) -> FileEntry:
        """The file the dataset is named after: the largest non-sidecar file (ties: by name)."""
        data = [f for f in self.files if f.suffix not in SIDECAR_SUFFIXES] or self.files
        return sorted(data, key=lambda f: (-f.size, f.rel))[0]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)
