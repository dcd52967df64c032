"""``client.datasets``: records, metadata, keywords, files, ingestion and links (seed 2.1 names)."""

from __future__ import annotations

import base64
import io
import logging
import os
import re
from datetime import datetime, timezone
from pathlib import Path
import builtins
from typing import Any, Iterable

from ..errors import ConflictError, NotFoundError
from ..mfid import new_mfid
from ..models import Dataset, as_payload
from .dataset_download import download_dataset
from .base import DEFAULT_LIMIT, Namespace, deprecated, seg

__all__ = ["Datasets"]

log = logging.getLogger("crucible.datasets")
TERMINAL_OK = "complete"


#: Post-processing requests the API offers for a dataset (``POST /datasets/{id}/<type>``).
PROCESSING_TYPES = ("carrier_segmentation", "insitu_spec_aggregation", "rga_analysis",
                    "mosaic_stitch")


class Datasets(Namespace):
    """Dataset calls. Every method returns plain dicts and lists."""

    # ------------------------------------------------------------------ records
    def get(self, dsid: str, include_metadata: bool = False,
            include_links: bool = False) -> dict[str, Any]:
        """GET ``/datasets/{id}``; ``NotFoundError`` if unknown or unreadable."""
        return self._get(f"datasets/{seg(dsid)}", include_metadata=include_metadata or None,
                         include_links=include_links or None)

    def list(self, sample_id: str | None = None, include_metadata: bool = False,
             limit: int | None = DEFAULT_LIMIT, **filters: Any) -> list[dict[str, Any]]:
        """Datasets visible to the caller (or of one sample), newest first; ``limit=None``
        reads every page. Filters are exact field matches (``keyword`` is a substring)."""
        params = {**filters, "include_metadata": include_metadata or None}
        if sample_id is not None:
            return self._list(f"samples/{seg(sample_id)}/datasets", limit=limit, params=params)
        return self._list("datasets", limit=limit, params=params)

    def count(self, **filters: Any) -> int:
        """How many datasets match (reads ``total`` of a one-item page)."""
        body = self._get("datasets", limit=1, **filters)
        if isinstance(body, dict) and body.get("total") is not None:
            return int(body["total"])
        return len(self.list(limit=None, **filters))

    def search(self, q: str, project_id: str | None = None, limit: int = 20) -> builtins.list[dict]:
        """Trigram search on ``dataset_name`` (``q`` needs 3+ characters; limit ≤ 50)."""
        return self._list("datasets/search", limit=limit,
                          params={"q": q, "project_id": project_id})

    def create(
        self,
        dataset: Dataset | dict,
        scientific_metadata: dict | None = None,
        keywords: Iterable[str] | None = None,
        get_user_info_function: Any = None,
        verbose: bool = False,
        files_to_upload: Iterable[str | os.PathLike] | None = None,
        ingestor: str | None = "ApiUploadIngestor",
        wait_for_ingestion_response: bool = True,
        *,
        ingestion_timeout: float | None = 600.0,
    ) -> dict[str, Any]:
        """Create a dataset, then its metadata, keywords, file uploads and ingestion.

        The dataset id is made here (or taken from ``dataset.unique_id``), so a retried POST
        can never create a second dataset. Returns the seed's wrapper: ``created_record``,
        ``scientific_metadata_record``, ``dsid`` and, with files, ``uploaded_files`` and
        ``ingestion_request`` (the main file's; all of them in ``ingestion_requests``).
        ``get_user_info_function`` and ``verbose`` are accepted for compatibility and unused.
        """
        payload = as_payload(dataset, Dataset)
        dsid = payload.get("unique_id") or new_mfid()
        payload["unique_id"] = dsid
        files = [Path(f) for f in (files_to_upload or [])]
        for f in files:
            if not f.is_file():
                raise FileNotFoundError(f"file to upload not found: {f}")
        if files and payload.get("timestamp") is None:
            mtime = files[0].stat().st_mtime
            payload["timestamp"] = datetime.fromtimestamp(mtime, timezone.utc).isoformat()

        def read_back() -> dict[str, Any]:
            existing = self.get(dsid)
            if existing.get("dataset_name") != payload.get("dataset_name"):
                raise ConflictError("POST", "/datasets", 409,
                                    f"dataset {dsid} already exists with other content")
            return existing

        created = self._create("datasets", payload, read_back)
        log.info("created dataset %s", dsid)
        result: dict[str, Any] = {"created_record": created, "scientific_metadata_record": None,
                                  "dsid": dsid}
        try:
            self._finish_create(result, scientific_metadata, keywords, files, ingestor,
                                wait_for_ingestion_response, ingestion_timeout)
        except Exception as exc:
            # The dataset exists: say so, so a caller can finish it (uploads deduplicate by
            # sha256 and ingestion requests are reused) instead of creating a second one.
            log.warning("dataset %s was created but its set-up stopped: %s", dsid, exc)
            exc.dsid = dsid  # type: ignore[attr-defined]
            if hasattr(exc, "add_note"):
                exc.add_note(f"dataset {dsid} was created; finish it with upload_file(...)")
            raise
        return result

    def _finish_create(self, result: dict[str, Any], scientific_metadata, keywords, files,
                       ingestor, wait: bool, timeout: float | None) -> None:
        """Metadata, keywords, uploads and ingestion of a fresh dataset (each step retry-safe)."""
        dsid = result["dsid"]
        if scientific_metadata:
            result["scientific_metadata_record"] = self.update_scientific_metadata(
                dsid, scientific_metadata)
        for kw in keywords or []:
            self.add_keyword(dsid, kw)
        if not files:
            return
        uploaded = [self.upload_file(dsid, f, ingest=True, ingestor=ingestor, wait=False)
                    for f in files]
        requests_ = [u.get("ingestion_request") for u in uploaded]
        if wait:
            requests_ = [self._client.ingestions.wait(r["id"], timeout=timeout) if r else None
                         for r in requests_]
            for u, r in zip(uploaded, requests_):
                u["ingestion_request"] = r
        result["uploaded_files"] = uploaded
        result["ingestion_request"] = requests_[0] if requests_ else None
        result["ingestion_requests"] = requests_

    def _create_record(self, record: dict[str, Any]) -> dict[str, Any]:
        return self.create(record)["created_record"]

    def _read_existing(self, uid: str) -> dict[str, Any]:
        # with its metadata: callers check whether an existing dataset is complete
        return self.get(uid, include_metadata=True)

    def create_from_files(self, dataset: Dataset | dict, files_to_upload, **kwargs: Any) -> dict:
        """Deprecated: ``create(dataset, files_to_upload=...)``."""
        deprecated("datasets.create_from_files", "datasets.create(files_to_upload=...)")
        return self.create(dataset, files_to_upload=files_to_upload, **kwargs)

    def update(self, dsid: str, **updates: Any) -> dict[str, Any]:
        """PATCH the given fields (absolute values, so a retry is harmless)."""
        body = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in updates.items()}
        return self._t.request("PATCH", f"datasets/{seg(dsid)}", json=body, safe=True)

    def delete(self, dsid: str, reason: str | None = None) -> dict[str, Any]:
        """File a deletion request (what the seed documents; ``DELETE`` answers 501 on v2)."""
        return self._client.deletions.request(dsid, reason=reason)

    # ------------------------------------------------------------------ access groups
    def get_access_groups(self, dsid: str) -> builtins.list[str]:
        body = self._get(f"resources/{seg(dsid)}/access_groups")
        return [g.get("group_name", g) if isinstance(g, dict) else g for g in body or []]

    def add_access_group(self, dsid: str, group_name: str, read: bool = True,
                         write: bool = False) -> dict[str, Any]:
        return self._t.request("POST", f"resources/{seg(dsid)}/access_groups", safe=True,
                               params={"group_name": group_name, "read": read, "write": write})

    # ------------------------------------------------------------------ files
    def upload_file(
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
    ) -> dict[str, Any]:
        """Upload one file (see :meth:`crucible.resources.files.Files.upload`)."""
        return self._client.files.upload(dsid, file_path, sha256=sha256,
                                         relative_path=relative_path, ingest=ingest,
                                         ingestor=ingestor, wait=wait, timeout=timeout)

    def get_associated_files(self, dsid: str, limit: int | None = DEFAULT_LIMIT) -> builtins.list[dict]:
        """The dataset's AssociatedFile rows."""
        return self._client.files.list(dataset_id=dsid, limit=limit)

    def add_associated_file(self, dsid: str, file_path: str | os.PathLike,
                            filename: str | None = None) -> dict[str, Any]:
        """Register a file row (name, size, sha256) without uploading bytes (legacy)."""
        from ..transfer import sha256_file

        p = Path(file_path)
        body = {"filename": filename or p.name, "size": p.stat().st_size,
                "sha256_hash": sha256_file(p)}
        return self._t.request("POST", f"datasets/{seg(dsid)}/associated_files", json=body)

    def get_download_links(self, dsid: str) -> dict[str, str]:
        """``{file mfid: signed URL}`` for the ingested files (``{}`` when none yet). Server
        errors raise instead of looking like an empty dataset."""
        try:
            body = self._get(f"datasets/{seg(dsid)}/download_links")
        except NotFoundError:
            self.get(dsid)  # an unknown dataset still raises
            return {}
        return dict(body or {})

    def download(self, dsid: str, file_name: str | None = None,
                 output_dir: str | os.PathLike = "crucible-downloads",
                 overwrite_existing: bool = True, no_record: bool = False,
                 include=None, exclude=None) -> builtins.list[str]:
        """Download the dataset (see :meth:`CrucibleClient.download`); ``file_name`` is the
        seed's deprecated regular expression on the relative path."""
        pattern = re.compile(file_name) if file_name else None
        return download_dataset(self._client, dsid, output_dir=output_dir, no_record=no_record,
                                overwrite_existing=overwrite_existing, include=include,
                                exclude=exclude, regex=pattern)

    # ------------------------------------------------------------------ ingestion
    def request_ingestion(self, dsid: str, file_to_upload: str | None = None,
                          ingestion_class: str | None = None,
                          wait_for_response: bool = False,
                          timeout: float | None = 600.0) -> dict[str, Any]:
        """Ask for ingestion of one of the dataset's files (by mfid, filename or relative
        path; default: the only file, or the dataset's ``file_to_upload``)."""
        files = self._client.files.list(dataset_id=dsid, limit=None)
        target = _pick_file(files, file_to_upload,
                            None if file_to_upload else self.get(dsid).get("file_to_upload"))
        req = self._client.ingestions.request(target["mfid"], ingestion_class=ingestion_class)
        if wait_for_response:
            req = self._client.ingestions.wait(req["id"], timeout=timeout)
        return req

    def get_request_status(self, dsid: str, reqid: int | str,
                           request_type: str = "ingest") -> dict[str, Any]:
        """The ingestion request ``reqid`` (``/ingestion_requests/{id}``)."""
        return self._client.ingestions.get(reqid)

    def update_ingestion_status(self, dsid: str, reqid: int | str, status: str,
                                timezone: str | None = None, **fields: Any) -> dict:
        """Admin: set an ingestion request's status. ``time_completed`` is written in UTC
        when the status is final (``timezone`` is accepted for compatibility and ignored)."""
        return self._client.ingestions.update(reqid, status=status, **fields)

    # ------------------------------------------------------------------ metadata
    def get_scientific_metadata(self, dsid: str) -> dict[str, Any]:
        """The flat scientific-metadata dict (``{}`` when there is none)."""
        body = self._get(f"resources/{seg(dsid)}/metadata")
        return dict((body or {}).get("scientific_metadata") or {})

    def add_scientific_metadata(self, dsid: str, metadata: dict) -> dict[str, Any]:
        """Create metadata; ``ConflictError`` if it already exists."""
        path = f"resources/{seg(dsid)}/metadata"

        def read_back() -> dict[str, Any]:
            return self._get(path)

        return self._create(path, metadata, read_back)

    def update_scientific_metadata(self, dsid: str, metadata: dict,
                                   overwrite: bool = False) -> dict[str, Any]:
        """Deep-merge (default) or replace (``overwrite=True``); both are safe to retry."""
        path = f"resources/{seg(dsid)}/metadata"
        if overwrite:
            return self._t.request("POST", path, json=metadata, params={"overwrite": True},
                                   safe=True)
        return self._t.request("PATCH", path, json=metadata, safe=True)

    def replace_scientific_metadata(self, dsid: str, metadata: dict) -> dict[str, Any]:
        return self.update_scientific_metadata(dsid, metadata, overwrite=True)

    def search_scientific_metadata(self, q: str, limit: int | None = None) -> builtins.list[dict]:
        """Full-text search across metadata (``limit`` default 50, the server's maximum)."""
        body = self._get("resources/metadata/search", q=q, limit=limit or 50)
        from ..pagination import items_of

        return items_of(body)

    # ------------------------------------------------------------------ thumbnails, keywords
    def get_thumbnails(self, dsid: str, limit: int | None = DEFAULT_LIMIT) -> builtins.list[dict]:
        return self._whole_list(f"datasets/{seg(dsid)}/thumbnails", limit=limit)

    def add_thumbnail(self, dsid: str, image: Any, thumbnail_name: str | None = None) -> dict:
        """Add a PNG thumbnail from a file path, PNG bytes, base64 text, or an object with
        ``savefig``/``save`` (matplotlib, PIL). Not retried after it may have landed."""
        data, name = _thumbnail_bytes(image)
        body = {"thumbnail_name": thumbnail_name or name or "thumbnail.png",
                "thumbnail_b64str": base64.b64encode(data).decode("ascii")}
        return self._t.request("POST", f"datasets/{seg(dsid)}/thumbnails", json=body)

    def get_keywords(self, dsid: str | None = None, limit: int | None = DEFAULT_LIMIT) -> builtins.list:
        path = f"datasets/{seg(dsid)}/keywords" if dsid else "keywords"
        return self._whole_list(path, limit=limit)

    def add_keyword(self, dsid: str, keyword: str) -> dict[str, Any]:
        """Tag the dataset (re-adding is a no-op, so this is retried)."""
        return self._t.request("POST", f"datasets/{seg(dsid)}/keywords",
                               params={"keyword": keyword}, safe=True)

    # ------------------------------------------------------------------ links
    def add_sample(self, dataset_id: str, sample_id: str) -> dict[str, Any]:
        return self._t.request("POST", f"datasets/{seg(dataset_id)}/samples/{seg(sample_id)}",
                               safe=True)

    def remove_sample(self, dataset_id: str, sample_id: str) -> dict[str, Any]:
        return self._delete(f"datasets/{seg(dataset_id)}/samples/{seg(sample_id)}")

    def link_parent_child(self, parent_dataset_id: str, child_dataset_id: str) -> dict:
        return self._t.request(
            "POST", f"datasets/{seg(parent_dataset_id)}/children/{seg(child_dataset_id)}",
            safe=True)

    def remove_child(self, parent_dataset_id: str, child_dataset_id: str) -> dict:
        return self._delete(
            f"datasets/{seg(parent_dataset_id)}/children/{seg(child_dataset_id)}")

    def list_children(self, parent_dataset_id: str, limit: int | None = DEFAULT_LIMIT,
                      **filters: Any) -> builtins.list[dict]:
        return self._list(f"datasets/{seg(parent_dataset_id)}/children", limit=limit,
                          params=filters)

    def list_parents(self, child_dataset_id: str, limit: int | None = DEFAULT_LIMIT,
                     **filters: Any) -> builtins.list[dict]:
        return self._list(f"datasets/{seg(child_dataset_id)}/parents", limit=limit,
                          params=filters)

    def list_samples(self, dataset_id: str, limit: int | None = DEFAULT_LIMIT,
                     **filters: Any) -> builtins.list[dict]:
        return self._list(f"datasets/{seg(dataset_id)}/samples", limit=limit, params=filters)

    def graph(self, dataset_id: str, recursive: bool = False, as_networkx: bool = False):
        return self._client.graphs.get(dataset_id, recursive=recursive, as_networkx=as_networkx)

    # ------------------------------------------------------------------ processing
    def request_processing(self, dsid: str, request_type: str) -> dict[str, Any]:
        """File a post-processing request (``POST /datasets/{id}/<request_type>``).

        ``request_type`` is one of `PROCESSING_TYPES`; anything else raises ValueError before
        any request is sent.
        """
        if request_type not in PROCESSING_TYPES:
            raise ValueError(f"unknown processing request {request_type!r}; "
                             f"expected one of {', '.join(PROCESSING_TYPES)}")
        return self._t.request("POST", f"datasets/{seg(dsid)}/{request_type}")

    def request_carrier_segmentation(self, dsid: str) -> dict[str, Any]:
        return self.request_processing(dsid, "carrier_segmentation")

    def request_insitu_aggregation(self, dsid: str) -> dict[str, Any]:
        return self.request_processing(dsid, "insitu_spec_aggregation")

    def request_rga_analysis(self, dsid: str) -> dict[str, Any]:
        return self.request_processing(dsid, "rga_analysis")

    def request_mosaic_stitch(self, dsid: str) -> dict[str, Any]:
        return self.request_processing(dsid, "mosaic_stitch")


def _pick_file(files: list[dict], wanted: str | None, main: str | None) -> dict[str, Any]:
    def names(f: dict) -> set[str]:
        out = {f.get("mfid"), f.get("filename"), f.get("storage_path")}
        for v in (f.get("filename"), f.get("storage_path")):
            if v:
                out.add(Path(str(v)).name)
        return {n for n in out if n}

    for key in (wanted, main):
        if key:
            hits = [f for f in files if key in names(f) or Path(key).name in names(f)]
            if len(hits) == 1:
                return hits[0]
            if wanted and key == wanted:
                raise ValueError(f"{len(hits)} files of the dataset match {wanted!r}")
    if len(files) == 1:
        return files[0]
    raise ValueError(f"the dataset has {len(files)} files; say which one to ingest")


def _thumbnail_bytes(image: Any) -> tuple[bytes, str | None]:
    if isinstance(image, (str, os.PathLike)) and os.path.isfile(image):
        p = Path(image)
        return p.read_bytes(), p.name
    if isinstance(image, (bytes, bytearray)):
        return bytes(image), None
    for method in ("savefig", "save"):
        if hasattr(image, method):
            buf = io.BytesIO()
            getattr(image, method)(buf, format="png")
            return buf.getvalue(), None
    if isinstance(image, str):
        try:
            data = base64.b64decode(image, validate=True)
        except ValueError:
            data = b""
        if data.startswith(b"\x89PNG"):
            return data, None
        raise FileNotFoundError(f"thumbnail {image!r} is neither an existing file nor base64 PNG")
    raise TypeError(f"cannot make a thumbnail from {type(image).__name__}")
