"""Download files to local paths: temp file + rename, sha256 verified, never outside root.

:class:`DownloadPlan` checks a whole dataset's local paths before any byte moves: a file with
an unsafe name, or whose local path another file (or the dataset's ``record.json``) would
also take, is refused; the others are downloaded.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable

from ..errors import RefusedFile, TransferError
from .hashing import sha256_file
from .paths import STORAGE_PREFIX, UnsafePathError, safe_join, safe_relative_path
from .stream import copy_url

__all__ = ["download_to_path", "ExistingFileDiffers", "DownloadPlan", "PlannedFile",
           "stored_relative_name", "NAME_MAX", "NAME_ERRNOS"]

#: Longest file or folder name, in bytes, that common file systems accept (ext4, APFS, NTFS).
NAME_MAX = 255
#: ``OSError`` numbers that mean "the local file system refuses this name" (not "disk full").
NAME_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL})

log = logging.getLogger("crucible.transfer")


class ExistingFileDiffers(TransferError, FileExistsError):
    """``overwrite_existing=False`` and a file already at the path has other content."""


def download_to_path(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None,
    size: int | None = None,
    overwrite: bool = True,
    transport: Any = None,
    progress: Callable[[int], None] | None = None,
    label: str | None = None,
) -> bool:
    """Fetch ``url`` to ``dest``. Returns False when an identical file was kept.

    The bytes go to a temporary file next to ``dest`` and are renamed into place only after
    the size and sha256 check; on any failure nothing is left at ``dest`` (an existing file is
    untouched). With ``overwrite=False`` an existing file is kept if its sha256 matches, and
    :class:`ExistingFileDiffers` is raised if it does not.
    """
    dest = Path(dest)
    label = label or dest.name
    if dest.exists() and not overwrite:
        if not sha256:
            log.warning("%s exists and the server has no sha256 to compare; kept it", dest)
            return False
        have = sha256_file(dest)
        if have == sha256.lower():
            log.info("%s exists with the right sha256; kept", dest)
            return False
        raise ExistingFileDiffers(f"{dest} exists with different content (sha256 {have}, "
                                  f"server {sha256}); not overwritten (overwrite_existing=False)")
    if not sha256:
        log.warning("no sha256 on record for %s; the download cannot be verified", label)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # the temporary name must fit where the final one does: keep only a short stem of it
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name[:32]}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            copy_url(url, fh, expected_sha256=sha256, expected_size=size,
                     transport=transport, progress=progress, what=label)
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return True


def stored_relative_name(dsid: str, record: dict) -> str:
    """Where a dataset file goes below ``<output_dir>/<dsid>/``, as the server names it and not
    yet checked: ``storage_path`` without ``mf-storage-prod/<dsid>/``, else the last part of
    ``filename``."""
    storage = record.get("storage_path")
    if storage:
        s = str(storage).replace("\\", "/")
        for prefix in (f"{STORAGE_PREFIX}{dsid}/", f"{dsid}/"):
            if s.startswith(prefix):
                return s[len(prefix):]
        if s.startswith(STORAGE_PREFIX):
            return s[len(STORAGE_PREFIX):].split("/", 1)[-1]
        return s
    filename = record.get("filename")
    if filename:
        return PurePosixPath(str(filename).replace("\\", "/")).name
    return ""


@dataclass(frozen=True)
class PlannedFile:
    """One file to download: the server's name, the checked relative path and local path."""

    name: str
    rel: str
    dest: Path
    url: str
    record: dict


def _key(dest: Path) -> str:
    """How the local file system tells paths apart (case-insensitive on macOS and Windows)."""
    text = os.path.normcase(str(dest))
    return text.casefold() if sys.platform == "darwin" else text


class DownloadPlan:
    """The files of one dataset download below ``root``, checked before any is fetched.

    :meth:`add` refuses an unsafe name at once; :meth:`files` then refuses every file whose
    local path another planned file, or one of the ``reserved`` names, would also take (or that
    would have to be a folder for another file). Refusals collect in ``refused``.
    """

    def __init__(self, root: str | os.PathLike, reserved: Iterable[str] = ()) -> None:
        self.root = Path(root).resolve()
        self.refused: list[RefusedFile] = []
        self._reserved = {_key(safe_join(self.root, r)): r for r in reserved}
        self._planned: list[PlannedFile] = []

    def add(self, name: str, url: str, record: dict) -> None:
        """Plan ``name`` (the server's relative path) or refuse it, saying why."""
        try:
            rel = safe_relative_path(name)
            longest = max(len(part.encode("utf-8", "surrogatepass")) for part in rel.split("/"))
            if longest > NAME_MAX:
                raise UnsafePathError(f"a name in it is {longest} bytes long; local file "
                                      f"systems take at most {NAME_MAX}")
            dest = safe_join(self.root, rel)
        except (UnsafePathError, OSError, ValueError) as exc:
            self.refuse(name, record, str(exc))
            return
        self._planned.append(PlannedFile(name, rel, dest, url, record))

    def refuse(self, name: str, record: dict, reason: str) -> None:
        self.refused.append(RefusedFile(name, reason, record.get("mfid")))

    def files(self) -> list[PlannedFile]:
        """The planned files that clash with nothing, in the order they were added."""
        by_key: dict[str, list[PlannedFile]] = defaultdict(list)
        folders: set[str] = set()
        for f in self._planned:
            by_key[_key(f.dest)].append(f)
            folders.update(_key(p) for p in self._folders_of(f))
        keep = []
        for f in self._planned:
            reason = self._clash(f, by_key, folders)
            if reason:
                self.refuse(f.name, f.record, reason)
            else:
                keep.append(f)
        return keep

    def _folders_of(self, f: PlannedFile) -> list[Path]:
        """The folders below ``root`` that ``f`` needs."""
        return [p for p in f.dest.parents if self.root in p.parents]

    def _clash(self, f: PlannedFile, by_key: dict[str, list[PlannedFile]],
               folders: set[str]) -> str | None:
        key = _key(f.dest)
        if key in self._reserved:
            return f"its local path {f.rel!r} is the dataset's {self._reserved[key]}"
        others = [o.name for o in by_key[key] if o is not f]
        if others:
            return (f"its local path {f.rel!r} is also where {', '.join(map(repr, others))} "
                    f"would go; none of them is written")
        if key in folders:
            return f"other files of the dataset need {f.rel!r} to be a folder"
        for folder in self._folders_of(f):
            if _key(folder) in by_key or _key(folder) in self._reserved:
                return f"a file of the dataset sits where its folder {folder.name!r} would be"
        return None
