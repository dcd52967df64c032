"""Where blobs live on disk. Blobs are named by upload id or file mfid, never by a client name."""

from __future__ import annotations

import os
from pathlib import Path


class Storage:
    """Three areas: partial uploads, completed-but-not-ingested files, ingested files."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir)
        self.uploads = self.root / "uploads"
        self.staged = self.root / "staged"
        self.store = self.root / "store"
        for d in (self.root, self.uploads, self.staged, self.store):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            d.chmod(0o700)  # blobs of private datasets: owner only

    def part(self, upload_id: str) -> Path:
        return self.uploads / f"{upload_id}.part"

    def parts_dir(self, upload_id: str) -> Path:
        """Parts of a signed multipart upload, one file per part number."""
        return self.uploads / f"{upload_id}.parts"

    def staged_file(self, mfid: str) -> Path:
        return self.staged / mfid

    def stored_file(self, mfid: str) -> Path:
        return self.store / mfid[:2] / mfid

    def ingest(self, mfid: str) -> Path:
        """Move a staged file into the store (idempotent); return its stored path."""
        dst = self.stored_file(mfid)
        src = self.staged_file(mfid)
        if src.exists():
            dst.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.replace(src, dst)
        return dst

    def current(self, mfid: str) -> Path | None:
        """The blob of a file, wherever it is now (None if missing)."""
        for p in (self.stored_file(mfid), self.staged_file(mfid)):
            if p.exists():
                return p
        return None
