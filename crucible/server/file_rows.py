"""File rows of a dataset and the one way received bytes become one.

A row *has bytes* when the server holds its content (``crc32c`` is set when bytes arrive; rows
registered through the S-era ``associated_files`` call have none). Only rows with bytes count as
"already on the dataset": a bytes-less row never swallows a real upload. At most one row with
bytes exists per (dataset, sha256): a partial unique index enforces it, so concurrent uploads of
the same content all end on the same row.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..mfid import new_mfid
from .db import File
from .storage import Storage


def file_record(f: File, dataset_id: int | None = None) -> dict[str, Any]:
    """The AssociatedFile shape. ``filename`` is the path relative to the dataset (what
    nano-crucible 3.3 names downloads by); ``upload_path`` is the era-M upload location."""
    return {"mfid": f.mfid, "dataset_mfid": f.dataset_mfid, "filename": f.relpath,
            "upload_path": f.filename, "storage_path": f.storage_path, "size": f.size,
            "sha256_hash": f.sha256_hash, "dataset_id": dataset_id, "creation_time": f.creation_time}


def row_with_bytes(db: Session, dsid: str, sha256: str) -> File | None:
    """The dataset's row holding content ``sha256``, if the server has such bytes."""
    return db.scalar(select(File).where(File.dataset_mfid == dsid, File.sha256_hash == sha256,
                                        File.crc32c.is_not(None)))


def stored_duplicate(db: Session, storage: Storage, dsid: str, sha256: str) -> File | None:
    """A row with this content whose blob is really on disk (an upload initiate answers it as
    ``existing_file``); a row whose blob went missing does not count, so it can be re-uploaded."""
    f = row_with_bytes(db, dsid, sha256)
    return f if f is not None and storage.current(f.mfid) is not None else None


def _restore(storage: Storage, f: File, blob: Path) -> None:
    """Give a row whose blob went missing the bytes just received (same sha256)."""
    os.replace(blob, storage.staged_file(f.mfid))
    if f.storage_path is not None:
        storage.ingest(f.mfid)


def register_blob(db: Session, storage: Storage, *, dsid: str, blob: Path, relpath: str,
                  upload_path: str, size: int, sha256: str, crc32c: str) -> tuple[File, bool]:
    """Make ``blob`` (fully received, hashes known) a file of ``dsid``; (row, created).

    The same content already on the dataset is not stored twice: its row is returned and ``blob``
    removed. This is decided by the unique index, not a check-then-insert, so it holds for
    concurrent requests. Commits.
    """
    for _ in range(3):
        existing = row_with_bytes(db, dsid, sha256)
        if existing is not None:
            if storage.current(existing.mfid) is None:
                _restore(storage, existing, blob)
            else:
                blob.unlink(missing_ok=True)
            return existing, False
        f = File(mfid=new_mfid(), dataset_mfid=dsid, relpath=relpath, filename=upload_path,
                 size=size, sha256_hash=sha256, crc32c=crc32c)
        staged = storage.staged_file(f.mfid)
        os.replace(blob, staged)
        db.add(f)
        try:
            db.commit()
            return f, True
        except IntegrityError:  # a concurrent request registered this content first
            db.rollback()
            os.replace(staged, blob)
    raise RuntimeError(f"could not register content {sha256} on dataset {dsid}")
