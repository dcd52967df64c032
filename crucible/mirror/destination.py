"""The mirror's destination: an fsspec filesystem plus a root prefix, with atomic writes.

Two commit strategies, one interface (:class:`AtomicWriter`):

* ``rename`` (local disks, memory, SFTP, ...): bytes go to a hidden partial file next to the
  target, which is moved over the final name only after the checksum matched.
* ``direct`` (object stores: S3, GCS, Azure, ...): a rename would copy the object again, so the
  final key is written directly. Object stores only make an object visible when the upload is
  completed (``close()``; s3fs completes the multipart upload there), so we finish the upload
  only when every byte arrived and the checksum matched, and otherwise call ``discard()``,
  which aborts the multipart upload. Never a ``with fs.open(...)`` block: its ``close()`` on
  error would publish the partial object.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping

import fsspec
from fsspec.core import url_to_fs

from .paths import PARTIAL_MARKER, join

WRITE_BLOCK_SIZE = 8 * 2**20  # object-store part size: >= S3's 5 MiB minimum, 256 KiB multiple
OBJECT_STORE_PROTOCOLS = frozenset(
    {"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl", "oci", "oss", "r2", "b2", "tos", "cos"}
)


def protocols_of(fs: fsspec.AbstractFileSystem) -> set[str]:
    proto = fs.protocol
    return {proto} if isinstance(proto, str) else set(proto)


@dataclass
class Destination:
    """Where the mirror writes: ``fs`` and a root path (no protocol) inside it."""

    fs: fsspec.AbstractFileSystem
    root: str
    strategy: str = "auto"
    _listings: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)
    _listing_locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    listing_calls: int = 0
    run_token: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        if self.strategy == "auto":
            self.strategy = "direct" if protocols_of(self.fs) & OBJECT_STORE_PROTOCOLS else "rename"
        if self.strategy not in ("rename", "direct"):
            raise ValueError(f"unknown commit strategy {self.strategy!r}")
        self.root = self.root.rstrip("/")

    @property
    def url(self) -> str:
        """The root as a URL, for reports (never contains credentials: they live in options)."""
        return self.fs.unstrip_protocol(self.root) if self.root else self.root

    def path(self, relative: str) -> str:
        return join(self.root, relative)

    # -- listings: at most one per directory per run -------------------------------------
    def listing(self, rel_dir: str, *, refresh: bool = False) -> dict[str, int]:
        """Sizes of the files directly in ``rel_dir`` (relative), listed once and cached
        (``refresh``: list again, e.g. for files other processes wrote)."""
        with self._lock:
            lock = self._listing_locks.setdefault(rel_dir, threading.Lock())
        with lock:
            if refresh or rel_dir not in self._listings:
                self._listings[rel_dir] = self._list(rel_dir)
            return self._listings[rel_dir]

    def _list(self, rel_dir: str) -> dict[str, int]:
        full = self.path(rel_dir) if rel_dir else self.root
        with self._lock:
            self.listing_calls += 1
        try:
            entries = self.fs.ls(full, detail=True, refresh=True)
        except TypeError:  # filesystems without a refresh switch
            entries = self.fs.ls(full, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return {}
        out: dict[str, int] = {}
        for entry in entries:
            if entry.get("type") == "file":
                name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
                out[name] = int(entry.get("size") or 0)
        return out

    def existing_size(self, relative: str) -> int | None:
        """Size of ``relative`` at the destination per the cached listing, or None if absent."""
        rel_dir, _, name = relative.rpartition("/")
        return self.listing(rel_dir).get(name)

    def note_written(self, relative: str, size: int | None) -> None:
        """Keep cached listings true after we wrote (size) or removed (None) a file."""
        rel_dir, _, name = relative.rpartition("/")
        with self._lock:
            listing = self._listings.get(rel_dir)
            if listing is not None:
                if size is None:
                    listing.pop(name, None)
                else:
                    listing[name] = size

    def partial_files(self, rel_dir: str) -> list[str]:
        """Leftover partial files of an interrupted run in ``rel_dir`` (uses the cached listing)."""
        return [f"{rel_dir}/{n}" if rel_dir else n
                for n in self.listing(rel_dir) if PARTIAL_MARKER in n]

    def remove(self, relative: str) -> None:
        try:
            self.fs.rm_file(self.path(relative))
        except FileNotFoundError:
            pass
        self.note_written(relative, None)

    def open_writer(self, relative: str) -> "AtomicWriter":
        return AtomicWriter(self, relative)

    def write_bytes(self, relative: str, data: bytes) -> None:
        """Write a small object atomically (manifest files, record.json)."""
        writer = self.open_writer(relative)
        try:
            writer.write(data)
        except BaseException:
            writer.abort()
            raise
        writer.commit()

    def read_bytes(self, relative: str) -> bytes:
        return self.fs.cat_file(self.path(relative))


class AtomicWriter:
    """Write one file so that readers see either the old version or the complete new one."""

    def __init__(self, dest: Destination, relative: str) -> None:
        self.dest = dest
        self.relative = relative
        self.final = dest.path(relative)
        self.bytes_written = 0
        parent = self.final.rpartition("/")[0]
        if dest.strategy == "rename":
            name = relative.rpartition("/")[2]
            self.target = f"{parent}/.{name}{PARTIAL_MARKER}{dest.run_token}{uuid.uuid4().hex[:8]}"
            if parent:
                dest.fs.makedirs(parent, exist_ok=True)
        else:
            self.target = self.final
        # A bounded write buffer keeps memory flat on object stores (s3fs defaults to 50 MiB).
        extra = {"block_size": WRITE_BLOCK_SIZE} if dest.strategy == "direct" else {}
        self._file: Any = dest.fs.open(self.target, "wb", **extra)
        self._done = False

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self.bytes_written += len(chunk)

    def commit(self) -> None:
        """Publish the bytes under the final name."""
        if self._done:
            raise RuntimeError("writer already finished")
        self._done = True
        try:
            self._file.close()
            if self.dest.strategy == "rename":
                self.dest.fs.mv(self.target, self.final)
        except BaseException:
            self._cleanup_target()
            raise
        self.dest.note_written(self.relative, self.bytes_written)

    def abort(self) -> None:
        """Throw the bytes away; the final name keeps whatever it had before."""
        if self._done:
            return
        self._done = True
        if self.dest.strategy == "direct":
            try:
                self._file.discard()  # s3fs: aborts the multipart upload, drops the buffer
            finally:
                self._file.closed = True  # never let close()/__del__ complete the upload
            return
        try:
            self._file.close()
        finally:
            self._cleanup_target()

    def _cleanup_target(self) -> None:
        if self.target != self.final:
            try:
                self.dest.fs.rm_file(self.target)
            except (FileNotFoundError, OSError):
                pass


def open_destination(url: str, storage_options: Mapping[str, Any] | None = None, *,
                     strategy: str = "auto") -> Destination:
    """Resolve an fsspec URL (plus its storage options) to a destination."""
    if not url or not str(url).strip():
        raise ValueError("destination is empty: give an fsspec URL or a local folder")
    fs, root = url_to_fs(url, **dict(storage_options or {}))
    return Destination(fs=fs, root=root, strategy=strategy)
