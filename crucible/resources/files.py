"""``client.files``: upload (resumable, deduplicated), list, get, signed links, download."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable

from ..errors import ChecksumMismatchError, UnverifiedUploadError, ValidationError
from ..transfer import download_to_path, safe_relative_path, sha256_file, upload_resumable
from .base import Namespace, seg

__all__ = ["Files"]

log = logging.getLogger("crucible.files")
DEFAULT_WAIT = 600.0


class Files(Namespace):
    """AssociatedFile calls: list, get, upload, download links."""

    def list(self, sha256_hash: str | None = None, dataset_id: str | None = None,
             limit: int | None = None) -> list[dict[str, Any]]:
        """Files of one dataset, or all readable files; filter by sha256. ``limit=None``: all."""
        if dataset_id is not None:
            rows = self._whole_list(f"datasets/{seg(dataset_id)}/files", limit=limit)
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

        initiate (with sha256: an ingested copy already on the dataset uploads nothing) →
        resumable chunked PUTs from disk → complete → ingest (unless ``ingest=False`` or the
        file is already ingested) → wait for ingestion when ``wait`` (deadline ``timeout``,
        default 600 s). A known ``sha256`` skips hashing. The returned dict carries
        ``ingestion_request`` when one was made. Every step is safe to retry: no step can
        create a second file.

        A copy the server reports but cannot show stored (no ``storage_path``, e.g. a row made
        by ``add_associated_file``) does not count: the bytes are sent again. If the server
        still answers with that same row, only ingestion can prove the bytes are there, so it
        is requested and waited for (``ingest=False``: :class:`UnverifiedUploadError`).
        """
        p = Path(file_path)
        if not p.is_file():
            raise FileNotFoundError(f"file to upload not found: {p}")
        size = p.stat().st_size
        name = safe_relative_path(relative_path or p.name)
        digest = (sha256 or sha256_file(p)).lower()
        base = f"datasets/{seg(dsid)}/upload"
        init = self._initiate(base, name, size, digest)
        existing = init.get("existing_file")
        if existing and existing.get("storage_path"):
            log.info("%s: already on dataset %s as file %s; nothing uploaded", name, dsid,
                     existing.get("mfid"))
            return dict(existing)
        if existing:
            log.warning("%s: file %s of dataset %s has this sha256 but no stored bytes on "
                        "record; sending the bytes", name, existing.get("mfid"), dsid)
            init = self._initiate(base, name, size, None)
        record = self._send(base, init, p, size, digest, progress)
        log.info("uploaded %s (%d bytes) to dataset %s as file %s", name, size, dsid,
                 record.get("mfid"))
        if (existing and record.get("mfid") == existing.get("mfid")
                and not record.get("storage_path")):
            return self._prove_stored(record, ingest, ingestor, timeout)
        if ingest and not record.get("storage_path"):
            req = self._client.ingestions.request(record["mfid"], ingestion_class=ingestor)
            if wait:
                req = self._client.ingestions.wait(
                    req["id"], timeout=DEFAULT_WAIT if timeout is None else timeout)
                record = self.get(record["mfid"])
            record["ingestion_request"] = req
        return record

    def _initiate(self, base: str, name: str, size: int, digest: str | None) -> dict[str, Any]:
        """Open an upload session; with ``digest`` the server may answer ``existing_file``."""
        body: dict[str, Any] = {"filename": name, "size": size}
        if digest:
            body["sha256_hash"] = digest
        return self._t.request("POST", f"{base}/initiate", safe=True, json=body)

    def _send(self, base: str, init: dict[str, Any], p: Path, size: int, digest: str,
              progress: Callable[[int], None] | None) -> dict[str, Any]:
        """PUT the bytes to the session's resumable URI, then complete it (sha256 checked)."""
        if init.get("existing_file") or not init.get("resumable_uri"):
            raise UnverifiedUploadError(
                f"upload of {p}: the server opened no upload session (its answer has "
                f"{', '.join(sorted(init)) or 'no fields'}), so the bytes cannot be sent")
        cfg = self._client.config
        chunk = (cfg.chunk_size if "chunk_size_mb" in cfg.source  # the caller chose it
                 else max(cfg.chunk_size, int(init.get("chunk_size_hint") or 0)))
        upload_resumable(self._t, init["resumable_uri"], p, size=size, chunk_size=chunk,
                         progress=progress)
        try:
            return self._t.request("POST", f"{base}/complete", safe=True,
                                   json={"upload_id": init["upload_id"], "sha256_hash": digest})
        except ValidationError as exc:
            if "sha256" in str(exc.detail).lower():
                raise ChecksumMismatchError(f"upload of {p}", digest,
                                            f"(server: {exc.detail})") from None
            raise

    def _prove_stored(self, record: dict[str, Any], ingest: bool, ingestor: str | None,
                      timeout: float | None) -> dict[str, Any]:
        """The server kept a row it could not show stored instead of the bytes just sent:
        ingest it and wait, since only a completed ingestion proves the bytes are there."""
        mfid = record["mfid"]
        if not ingest:
            raise UnverifiedUploadError(
                f"the server answered the upload with file {mfid}, which it cannot show holds "
                f"the bytes (no storage_path); pass ingest=True to prove them by ingestion")
        req = self._client.ingestions.request(mfid, ingestion_class=ingestor)
        req = self._client.ingestions.wait(
            req["id"], timeout=DEFAULT_WAIT if timeout is None else timeout)
        record = self.get(mfid)
        if req.get("status") != "complete" or not record.get("storage_path"):
            raise UnverifiedUploadError(
                f"file {mfid} holds no stored bytes (ingestion {req.get('id')} ended "
                f"{req.get('status')!r}: {req.get('error_message') or ''}); the server kept "
                f"that row instead of the bytes just sent")
        record["ingestion_request"] = req
        return record
