"""sha256 of files and streams, read in bounded chunks."""

from __future__ import annotations

import hashlib
import os
from typing import BinaryIO

__all__ = ["READ_CHUNK", "sha256_file", "sha256_stream"]

READ_CHUNK = 1024 * 1024


def sha256_stream(fh: BinaryIO, chunk_size: int = READ_CHUNK) -> tuple[str, int]:
    """Hash a binary stream to its end; returns ``(hexdigest, bytes_read)``."""
    h = hashlib.sha256()
    total = 0
    buf = bytearray(chunk_size)
    view = memoryview(buf)
    readinto = getattr(fh, "readinto", None)
    while True:
        if readinto is not None:
            n = readinto(view)
            if not n:
                break
            h.update(view[:n])
        else:
            data = fh.read(chunk_size)
            if not data:
                break
            n = len(data)
            h.update(data)
        total += n
    return h.hexdigest(), total


def sha256_file(path: str | os.PathLike, chunk_size: int = READ_CHUNK) -> str:
    """Hex sha256 of a local file (memory bounded by ``chunk_size``)."""
    with open(path, "rb", buffering=0) as fh:
        return sha256_stream(fh, chunk_size)[0]
