"""``mirror_downloads``: mirror Crucible datasets to any fsspec destination, verified, incremental.

Select datasets by id or by a query, then copy every ingested file from its signed URL straight
into the destination (``file://``, ``s3://``, ``gs://``, ``sftp://``, ``memory://``, ... or a
Prefect ``RemoteFileSystem`` block), checking each file's sha256 against Crucible's record while
it streams. A manifest at the destination makes re-runs cheap: unchanged files are skipped without
a download. See docs/mirror.md.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import wait

from crucible_prefect import CrucibleCredentials
from flows.mirror import (DEFAULT_RECORD_TEMPLATE, DEFAULT_TEMPLATE, CrucibleSource, Mirror,
                          MirrorOptions, Query, open_destination)
from flows.mirror.artifacts import ProgressArtifact, publish_report
from flows.mirror.report import FileResult

__all__ = ["MirrorFailed", "mirror_downloads", "mirror_dataset"]

_SECRET_HINTS = ("secret", "password", "token", "key", "credential")


class MirrorFailed(RuntimeError):
    """Some files could not be mirrored; ``summary`` lists them (the rest was mirrored)."""

    def __init__(self, summary: dict) -> None:
        self.summary = summary
        failed = summary["failed"]
        shown = "; ".join(f"{f['dataset_id']}:{f['path']}: {f['error']}" for f in failed[:5])
        more = f" (+{len(failed) - 5} more)" if len(failed) > 5 else ""
        super().__init__(f"{len(failed)} file(s) failed to mirror: {shown}{more}")

    def __reduce__(self):
        return (type(self), (self.summary,))


def _client(credentials: CrucibleCredentials | str | None) -> Any:
    from crucible_prefect.tasks.common import client_for

    return client_for(credentials)


@task(name="mirror-dataset", task_run_name="mirror-dataset-{dataset_id}", tags=["crucible"],
      cache_policy=NO_CACHE)
def mirror_dataset(mirror: Mirror, dataset_id: str) -> dict:
    """Mirror one dataset's files and record.json; returns counts (details go to the report)."""
    results = mirror.dataset(dataset_id)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return {"dataset_id": dataset_id, "counts": counts}


@flow(name="mirror-downloads")
def mirror_downloads(
    destination: str | None = None,
    dataset_ids: list[str] | None = None,
    project_id: str | None = None,
    sample_id: str | None = None,
    include_descendants: bool = False,
    keyword: str | None = None,
    instrument_name: str | None = None,
    created_since: datetime | None = None,
    storage_options: dict[str, Any] | None = None,
    destination_block: str | None = None,
    layout: str = DEFAULT_TEMPLATE,
    record_layout: str | None = DEFAULT_RECORD_TEMPLATE,
    delete_extraneous: bool = False,
    max_concurrency: int = 4,
    credentials: CrucibleCredentials | str | None = None,
    artifact_key: str | None = "crucible-mirror",
) -> dict:
    """Mirror the selected datasets to ``destination`` (an fsspec URL) or ``destination_block``.

    Returns a summary (counts per status, bytes copied, failures). The run fails if any file
    failed; everything else was still mirrored and recorded in the manifest.
    """
    logger = get_run_logger()
    if storage_options and any(h in k.lower() for k in storage_options for h in _SECRET_HINTS):
        logger.warning("storage_options look like they hold credentials; flow parameters are "
                       "stored in clear by Prefect. Prefer environment credentials or a block.")
    options = MirrorOptions(template=layout, record_template=record_layout,
                            delete_extraneous=delete_extraneous, max_concurrency=max_concurrency)
    query = Query(dataset_ids=tuple(dataset_ids or ()), project_id=project_id, sample_id=sample_id,
                  include_descendants=include_descendants, keyword=keyword,
                  instrument_name=instrument_name, created_since=created_since)
    dest = open_destination(destination, storage_options, block_name=destination_block)
    source = CrucibleSource(_client(credentials))
    ids = source.select(query)  # inline, not a task: a few list calls, and re-runs stay cheap
    logger.info("mirroring %d dataset(s) to %s", len(ids), dest.url)
    progress = ProgressArtifact(f"Mirror to {dest.url}")
    with Mirror(source, dest, options, on_progress=progress) as mirror:
        futures = [mirror_dataset.submit(mirror, dsid) for dsid in ids]
        wait(futures)
        for dsid, fut in zip(ids, futures):
            if fut.state.is_failed():  # a crash in the task itself, not a failed file
                mirror.report.results.append(
                    FileResult(dsid, "", "failed", error=f"task failed: {fut.state.message}"))
    report = mirror.report
    publish_report(report, artifact_key)
    summary = report.summary()
    logger.info("mirror finished: %s, %d bytes copied", summary["counts"], summary["bytes_copied"])
    if report.failed:
        raise MirrorFailed(summary)
    return summary


if __name__ == "__main__":  # pragma: no cover - convenience for a one-off run
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Mirror Crucible datasets to an fsspec URL.")
    parser.add_argument("destination")
    parser.add_argument("dataset_ids", nargs="*")
    parser.add_argument("--project-id")
    parser.add_argument("--delete-extraneous", action="store_true")
    parser.add_argument("--max-concurrency", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    print(json.dumps(mirror_downloads(args.destination, args.dataset_ids or None,
                                      project_id=args.project_id,
                                      delete_extraneous=args.delete_extraneous,
                                      max_concurrency=args.max_concurrency), indent=2))
