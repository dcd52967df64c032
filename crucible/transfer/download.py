"""Download one file to a local path: temp file + rename, sha256 verified, never outside root."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from ..errors import TransferError
from .hashing import sha256_file
from .stream import copy_url

__all__ = ["download_to_path", "ExistingFileDiffers"]

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
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
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
