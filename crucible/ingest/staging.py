"""Local paths to upload from: the files themselves, or copies of remote files made while hashing.

The client uploads from a local path. A local source is used in place. A remote source (SFTP
share, S3, ...) is read exactly once: the bytes are hashed on their way into a temporary copy,
and the upload reads that copy. The copies of one group live only while the group is processed.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from . import identity as ident
from .models import FileEntry


class Staging:
    """Context manager giving each file of a group a local path (see module docstring)."""

    def __init__(self, fs: Any, is_local: bool):
        self.fs, self.is_local = fs, is_local
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._paths: dict[str, str] = {}

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _target(self, entry: FileEntry) -> str:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="crucible-ingest-")
        return os.path.join(self._tmp.name, f"{len(self._paths):05d}")

    def digest(self, entry: FileEntry) -> tuple[str, int]:
        """sha256 and bytes read; a remote file is copied locally in the same single read."""
        if self.is_local:
            return ident.sha256_of(self.fs, entry.path)
        target = self._target(entry)
        with open(target, "wb") as sink:
            result = ident.sha256_of(self.fs, entry.path, sink=sink)
        self._paths[entry.rel] = target
        return result

    def local_path(self, entry: FileEntry) -> str:
        """Where to upload ``entry`` from (a remote file whose digest came from the ledger is
        copied now)."""
        if self.is_local:
            return entry.path
        if entry.rel not in self._paths:
            target = self._target(entry)
            self.fs.get_file(entry.path, target)
            self._paths[entry.rel] = target
        return self._paths[entry.rel]
