"""Keep every download path inside its output directory, whatever names the server returns."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path, PurePosixPath

from ..errors import TransferError
from ..globs import select

__all__ = ["UnsafePathError", "safe_relative_path", "safe_join", "matches"]

STORAGE_PREFIX = "mf-storage-prod/"


class UnsafePathError(TransferError, ValueError):
    """A server-supplied path would land outside the output directory."""


def safe_relative_path(name: str) -> str:
    """Validate a server-supplied relative path and return it normalised (POSIX).

    Rejects absolute paths (``/x``, ``C:\\x``, ``\\\\host``), any ``..`` component, NUL bytes
    and empty names. Backslashes count as separators, so ``..\\x`` is rejected too.
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise UnsafePathError(f"refusing empty or invalid path {name!r}")
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        raise UnsafePathError(f"refusing absolute path {name!r}")
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise UnsafePathError(f"refusing path {name!r}: it leaves the output directory")
    return posixpath.join(*parts)


def safe_join(root: str | os.PathLike, name: str) -> Path:
    """``root / name`` after :func:`safe_relative_path`, re-checked after resolving symlinks."""
    rel = safe_relative_path(name)
    base = Path(root).resolve()
    target = (base / PurePosixPath(rel)).resolve()
    if target != base and base not in target.parents:
        raise UnsafePathError(f"refusing path {name!r}: it resolves outside {str(base)!r}")
    return target


def dataset_relative_path(dsid: str, file_record: dict) -> str:
    """Where a dataset file goes below ``<output_dir>/<dsid>/``: from ``storage_path``
    (``mf-storage-prod/<dsid>/<relpath>``), else the basename of ``filename``."""
    storage = file_record.get("storage_path")
    if storage:
        s = str(storage).replace("\\", "/")
        for prefix in (f"{STORAGE_PREFIX}{dsid}/", f"{dsid}/"):
            if s.startswith(prefix):
                return safe_relative_path(s[len(prefix):])
        if s.startswith(STORAGE_PREFIX):
            return safe_relative_path(s[len(STORAGE_PREFIX):].split("/", 1)[-1])
        return safe_relative_path(s)
    filename = file_record.get("filename")
    if filename:
        return safe_relative_path(PurePosixPath(str(filename).replace("\\", "/")).name)
    raise UnsafePathError(f"file {file_record.get('mfid')!r} has neither storage_path nor filename")


#: Download filters speak the repository's one glob language (crucible/globs.py).
matches = select
