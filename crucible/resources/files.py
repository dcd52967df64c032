"""``client.files``: upload (resumable, deduplicated), list, get, signed links, download."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable

from ..errors import ChecksumMismatchError, ValidationError
from ..transfer import download_to_path, safe_relative_path, sha256_file, upload_resumable
from .base import Namespace, seg

__all__ = ["Files"]

log = logging.getLogger("crucible.files")
DEFAULT_WAIT = 600.0


class Files(Namespace):
    """AssociatedFile calls (era 3)."""

    def list(self, sha256_hash: str | None = None, dataset_id: str | None = None,
             limit: int | None = None) -> list[dict[str, Any]]:
        """Files of one dataset, or all readable files; filter by sha256. ``limit=None``: all."""
        if dataset_id is not None:
            rows = self._list(f"datasets/{seg(dataset_id)}/files", limit=limit)
            if sha256_hash:
                rows = [r for r in rows if r.get("sha256_hash") == sha256_hash]
            return rows
        return self._list("files", limit=limit, params={"sha256_hash": sha256_hash})

    def get(self, mfid: str) -> dict[str, Any]:
        return self._get(f"files/{seg(mfid)}")

    def delete(self, mfid: str) -> dict[str, Any]:
        return self._delete(f"files/{seg(mfid)}")

    def download_link(self, mfid: str) -> str:
        """A signed URL (valid about 1 h, needs no key); ``NotFoundError`` until ingested."""
        body = self._get(f"files/{seg(mfid)}/download_link")
        return body["url"] if isinstance(body, dict) else str(body)

    def download(self, mfid: str, dest: str | os.PathLike, *, overwrite: bool = True,
                 progress: Callable[[int], None] | None = None) -> Path:
        """Download one file to the path ``dest`` (temp file + rename, sha256 verified)."""
        record = self.get(mfid)
        download_to_path(self.download_link(mfid), dest, sha256=record.get("sha256_hash"),
                         size=record.get("size"), overwrite=overwrite, transport=self._t,
                         progress=progress, label=f"file {mfid}")
        return Path(dest)

    def upload(
        self,
        dsid: str,
        file_path: str | os.PathLike,
        *,
        sha256: str | None = None,
        relative_path: str | None = None,
        ingest: bool = True,
        ingestor: str | None = None,
        wait: bool = False,
        timeout: float | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Upload a local file to dataset ``dsid`` and return its AssociatedFile.

        initiate (with sha256: a copy already on the dataset uploads nothing) → resumable
        chunked PUTs from disk → complete → ingest (unless ``ingest=False`` or the file is
        already ingested) → wait for ingestion when ``wait`` (deadline ``timeout``, default
        600 s). A known
        ``sha256`` skips hashing. The returned dict carries ``ingestion_request`` when one was
        made. Every step is safe to retry: no step can create a second file.
        """
        p = Path(file_path)
        if not p.is_file():
            raise FileNotFoundError(f"file to upload not found: {p}")
        size = p.stat().st_size
        name = safe_relative_path(relative_path or p.name)
        digest = (sha256 or sha256_file(p)).lower()
        base = f"datasets/{seg(dsid)}/upload"
        init = self._t.request("POST", f"{base}/initiate", safe=True,
                               json={"filename": name, "size": size, "sha256_hash": digest})
        if init.get("existing_file"):
            record = dict(init["existing_file"])
            log.info("%s: already on dataset %s as file %s; nothing uploaded", name, dsid,
                     record.get("mfid"))
        else:
            cfg = self._client.config
            chunk = (cfg.chunk_size if "chunk_size_mb" in cfg.source  # the caller chose it
                     else max(cfg.chunk_size, int(init.get("chunk_size_hint") or 0)))
            upload_resumable(self._t, init["resumable_uri"], p, size=size, chunk_size=chunk,
                             progress=progress)
            try:
                record = self._t.request("POST", f"{base}/complete", safe=True,
                                         json={"upload_id": init["upload_id"],
                                               "sha256_hash": digest})
            except ValidationError as exc:
                if "sha256" in str(exc.detail).lower():
                    raise ChecksumMismatchError(f"upload of {p}", digest,
                                                f"(server: {exc.detail})") from None
                raise
            log.info("uploaded %s (%d bytes) to dataset %s as file %s", name, size, dsid,
                     record.get("mfid"))
        if ingest and not record.get("storage_path"):
            req = self._client.ingestions.request(record["mfid"], ingestion_class=ingestor)
            if wait:
                req = self._client.ingestions.wait(
                    req["id"], timeout=DEFAULT_WAIT if timeout is None else timeout)
                record = self.get(record["mfid"])
            record["ingestion_request"] = req
        return record
