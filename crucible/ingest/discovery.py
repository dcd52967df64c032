"""Find the files of an instrument run on any fsspec filesystem, filtered by include/exclude globs
(the repository's one glob language, crucible/globs.py).

A run is either a folder (every file below it) or a single file (its parent folder is the run's
root). Relative paths are POSIX paths below the root; they are what datasets record and what the
dataset identity is built from, so they never depend on where the folder is mounted.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import fsspec
from fsspec.implementations.local import LocalFileSystem

from crucible import globs

from .models import FileEntry

#: Skipped unless the caller passes its own ``exclude``: editor/OS litter and hidden files.
DEFAULT_EXCLUDE: tuple[str, ...] = (".*", "*~", "~$*", "Thumbs.db", "desktop.ini", "*.tmp", "*.part")


class SourceError(ValueError):
    """The run's path cannot be used (missing, not readable, nothing to ingest)."""


@dataclass(frozen=True)
class Source:
    """Where a run lives: its filesystem, root folder, display URL and the single file (if any)."""

    fs: Any
    root: str
    url: str
    single_file: str | None = None

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    @property
    def name(self) -> str:
        """The run's folder name (the default run name)."""
        return posixpath.basename(self.root.rstrip("/")) or self.root


def open_source(path: str, storage_options: dict | None = None) -> Source:
    """Resolve ``path`` (local path or fsspec URL) to a Source; raise SourceError if unusable."""
    if not path or not str(path).strip():
        raise SourceError("path is empty: give a folder, a file or an fsspec URL")
    try:
        fs, fs_path = fsspec.core.url_to_fs(str(path), **(storage_options or {}))
    except (ImportError, ValueError) as exc:
        raise SourceError(f"cannot open {path!r}: {exc}") from exc
    try:
        info = fs.info(fs_path)
    except FileNotFoundError:
        raise SourceError(f"path does not exist: {path}") from None
    except PermissionError as exc:
        raise SourceError(f"path is not readable: {path} ({exc})") from exc
    fs_path = fs_path.rstrip("/") or fs_path
    if info.get("type") == "directory":
        return Source(fs=fs, root=fs_path, url=str(path))
    return Source(fs=fs, root=posixpath.dirname(fs_path), url=str(path), single_file=fs_path)


def info_mtime(info: dict) -> float | None:
    """Modification time from an fsspec info dict (keys differ per filesystem), or None."""
    for key in ("mtime", "LastModified", "last_modified", "modified", "updated", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.timezone.utc)
            return value.timestamp()
        if isinstance(value, str):
            try:
                return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


def _entry(source: Source, path: str, info: dict) -> FileEntry:
    rel = posixpath.relpath(path, source.root) if source.root else path.lstrip("/")
    return FileEntry(
        path=path,
        rel=rel,
        size=int(info.get("size") or 0),
        mtime=info_mtime(info),
        regular=info.get("type") == "file",
    )


def select(rel: str, include: Sequence[str] | None, exclude: Sequence[str] | None) -> bool:
    """True if ``rel`` passes the include globs and no exclude glob (default: DEFAULT_EXCLUDE)."""
    return globs.select(rel, include, DEFAULT_EXCLUDE if exclude is None else exclude)


def list_files(
    source: Source,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
) -> list[FileEntry]:
    """Every selected file of the run, sorted by relative path (links to nowhere included, marked
    not ``regular``, so the report can name them)."""
    if source.single_file is not None:
        listing: Iterable[tuple[str, dict]] = [(source.single_file, source.fs.info(source.single_file))]
    else:
        try:
            found = source.fs.find(source.root, withdirs=False, detail=True)
        except PermissionError as exc:
            raise SourceError(f"cannot list {source.url}: {exc}") from exc
        listing = found.items()
    entries = []
    for path, info in listing:
        if info.get("type") == "directory":
            continue
        entry = _entry(source, path, info)
        if entry.rel.startswith("../") or entry.rel == "..":
            continue  # never leave the root, whatever the filesystem returns
        if source.single_file is None and not select(entry.rel, include, exclude):
            continue
        entries.append(entry)
    return sorted(entries, key=lambda e: e.rel)
