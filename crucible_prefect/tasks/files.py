"""File tasks: upload to a dataset, ingestion (request and wait), find by sha256, download.

Uploads are deduplicated by sha256 on the server, so a retried upload sends nothing twice. An
ingestion is requested only if the file has no live request yet, so a retry never queues a second
one. Downloads are verified against the server's sha256 and return local paths, never bytes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from crucible.resources.ingestions import PENDING_STATUSES, IngestionFailed

from crucible_prefect.tasks.common import Credentials, client_for, crucible_task, plain, run_logger
from crucible_prefect.tasks.caching import IMMUTABLE_WITHIN_RUN

__all__ = [
    "IngestionFailedError",
    "upload_files",
    "request_ingestion",
    "wait_for_ingestion",
    "find_files_by_sha256",
    "download_dataset",
]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")

#: The old name of the client's ``IngestionFailed`` (one failure type for a failed ingestion).
IngestionFailedError = IngestionFailed


def _live(request: dict[str, Any]) -> bool:
    """Queued, running or done: a request that makes a new one pointless."""
    status = str(request.get("status") or "").lower()
    return status == "complete" or status in PENDING_STATUSES


@crucible_task
def upload_files(
    dataset_id: str,
    paths: list[str],
    *,
    base_dir: str | None = None,
    ingest: bool = True,
    wait: bool = False,
    timeout: float = 600.0,
    credentials: Credentials = None,
) -> list[dict[str, Any]]:
    """Upload local files to a dataset; returns one small record per file.

    Each record is the file's AssociatedFile (``mfid``, ``filename``, ``size``,
    ``sha256_hash``, ``storage_path``) plus ``ingestion`` (the request, or None). With
    ``base_dir`` the path relative to it is kept in the dataset; otherwise the file name.
    ``ingest`` requests ingestion for files not yet ingested; ``wait`` waits (up to ``timeout``
    seconds per file) and raises `crucible.IngestionFailed` if one fails.
    """
    if isinstance(paths, (str, os.PathLike)):
        raise TypeError("upload_files: paths must be a list of paths, not one path")
    files = [Path(p) for p in paths]
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"upload_files: not regular files: {missing}")
    relatives = [_relative(p, base_dir) for p in files]
    clashes = sorted({r for r in relatives if relatives.count(r) > 1})
    if clashes:
        raise ValueError(f"upload_files: several files would be stored as {clashes}; "
                         f"pass base_dir to keep their folders apart")
    client = client_for(credentials)
    log = run_logger()
    results = []
    for path, relative in zip(files, relatives):
        record = plain(client.datasets.upload_file(dataset_id, str(path),
                                                   relative_path=relative, ingest=ingest))
        request = None
        if ingest and not record.get("storage_path"):
            request = _ensure_ingestion(client, record["mfid"], None)
            if wait:
                request = _wait(client, request, timeout)
        log.info("Uploaded %s to dataset %s as file %s (%s bytes)", relative, dataset_id,
                 record.get("mfid"), record.get("size"))
        results.append({**record, "ingestion": request})
    return results


@crucible_task
def request_ingestion(
    file_id: str,
    *,
    ingestion_class: str | None = None,
    wait: bool = False,
    timeout: float = 600.0,
    credentials: Credentials = None,
) -> dict[str, Any]:
    """Ask the server to ingest an uploaded file; returns the IngestionRequest.

    If the file already has a request that is queued, running or complete, that one is
    returned and no new request is made. ``wait`` waits for a terminal status (see
    `wait_for_ingestion`).
    """
    client = client_for(credentials)
    request = _ensure_ingestion(client, file_id, ingestion_class)
    return _wait(client, request, timeout) if wait else request


@crucible_task(cache_policy=IMMUTABLE_WITHIN_RUN)
def wait_for_ingestion(
    request_id: int,
    *,
    timeout: float = 600.0,
    raise_on_failure: bool = True,
    credentials: Credentials = None,
) -> dict[str, Any]:
    """Wait until an ingestion request reaches a terminal status and return it.

    ``IngestionFailed`` if it ends other than ``complete`` (unless ``raise_on_failure`` is
    False); ``TimeoutError`` after ``timeout`` seconds. A terminal request never changes, so
    the result is cached for the flow run.
    """
    client = client_for(credentials)
    request = plain(client.ingestions.wait(request_id, timeout=timeout))
    if raise_on_failure and request.get("status") != "complete":
        raise IngestionFailed(request)
    return request


@crucible_task
def find_files_by_sha256(
    sha256_hash: str,
    *,
    dataset_id: str | None = None,
    credentials: Credentials = None,
) -> list[dict[str, Any]]:
    """Files (AssociatedFile records) with this sha256 that this key can read, optionally
    only in one dataset."""
    sha = sha256_hash.strip().lower()
    if not _SHA256.match(sha):
        raise ValueError(f"find_files_by_sha256: not a sha256 hex digest: {sha256_hash!r}")
    client = client_for(credentials)
    return plain(client.files.list(sha256_hash=sha, dataset_id=dataset_id))


@crucible_task
def download_dataset(
    dataset_id: str,
    output_dir: str,
    *,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    no_record: bool = False,
    overwrite_existing: bool = True,
    credentials: Credentials = None,
) -> list[str]:
    """Download a dataset's ingested files (sha256-verified) and its ``record.json`` into
    ``output_dir/<dataset_id>/``; returns the local paths written or kept.

    ``include``/``exclude`` are glob patterns on the files' relative paths.
    """
    client = client_for(credentials)
    paths = client.datasets.download(dataset_id, output_dir=output_dir, include=include,
                                     exclude=exclude, no_record=no_record,
                                     overwrite_existing=overwrite_existing)
    paths = [os.fspath(p) for p in paths]
    run_logger().info("Downloaded dataset %s: %d files under %s", dataset_id, len(paths),
                      output_dir)
    return paths


def _relative(path: Path, base_dir: str | None) -> str:
    if not base_dir:
        return path.name
    try:
        return path.resolve().relative_to(Path(base_dir).resolve()).as_posix()
    except ValueError:
        raise ValueError(f"upload_files: {path} is not inside base_dir {base_dir}") from None


def _ensure_ingestion(client: Any, file_id: str, ingestion_class: str | None) -> dict[str, Any]:
    """The file's live ingestion request, made only if there is none (safe to repeat)."""
    for request in plain(client.ingestions.list(file_id=file_id)):
        if _live(request):
            return request
    request = plain(client.ingestions.request(file_id, ingestion_class=ingestion_class))
    run_logger().info("Requested ingestion %s of file %s", request.get("id"), file_id)
    return request


def _wait(client: Any, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Wait with the client's one notion of pending; a request that did not complete raises."""
    if str(request.get("status") or "").lower() in PENDING_STATUSES:
        request = plain(client.ingestions.wait(request["id"], timeout=timeout))
    if request.get("status") != "complete":
        raise IngestionFailed(request)
    return request
