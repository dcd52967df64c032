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
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from crucible_prefect.runners import dask_variant_attribute
from crucible_prefect import CrucibleCredentials
from flows.mirror import (DEFAULT_RECORD_TEMPLATE, DEFAULT_TEMPLATE, CrucibleSource, Mirror,
                          MirrorOptions, Query, open_destination)
from flows.mirror.artifacts import ProgressArtifact, publish_report
from flows.mirror.job import MirrorJob, attach
from flows.mirror.report import FileResult

__all__ = ["MirrorFailed", "mirror_downloads", "mirror_downloads_dask", "mirror_dataset"]

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


def _task_runner() -> Any:
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    return ctx.task_runner if ctx else None


def _client(credentials: CrucibleCredentials | str | None) -> Any:
    from crucible_prefect.tasks.common import client_for

    return client_for(credentials)


@task(name="mirror-dataset", task_run_name="mirror-dataset-{dataset_id}", tags=["crucible"],
      cache_policy=NO_CACHE)
def mirror_dataset(job: MirrorJob, dataset_id: str) -> dict:
    """Mirror one dataset's files and record.json; returns counts and the per-file results.

    ``job`` is picklable (Dask ships it to other processes); in the flow's own process the
    task works on the flow's mirror, elsewhere on a mirror of its own (flows/mirror/job.py).
    """
    with attach(job) as (mirror, shared):
        results = mirror.dataset(dataset_id)
        listing_calls = 0 if shared else mirror.dest.listing_calls
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return {"dataset_id": dataset_id, "counts": counts, "shared": shared,
            "listing_calls": listing_calls, "results": [r.to_json() for r in results]}


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
        # Tasks on another process's mirror (Dask) journal into this run's manifest generation.
        mirror.absorb_foreign = not isinstance(_task_runner(), ThreadPoolTaskRunner)
        job = MirrorJob.of(mirror, credentials)
        futures = [mirror_dataset.submit(job, dsid) for dsid in ids]
        for fut in as_completed(futures):
            try:
                done = fut.result(raise_on_failure=True)
            except Exception as exc:  # a crash in the task itself, not a failed file
                dsid = ids[futures.index(fut)]
                mirror.report.results.append(
                    FileResult(dsid, "", "failed", error=f"task failed: {fut.state.message or exc}"))
                continue
            if not done["shared"]:  # made by a mirror in another process: take its results in
                mirror.adopt([FileResult(**r) for r in done["results"]], done["listing_calls"])
    report = mirror.report
    publish_report(report, artifact_key)
    summary = report.summary()
    logger.info("mirror finished: %s, %d bytes copied", summary["counts"], summary["bytes_copied"])
    if report.failed:
        raise MirrorFailed(summary)
    return summary


#: ``mirror_downloads_dask``: the same flow on a Dask task runner, made on first use
#: (configuration: crucible_prefect/runners.py; needs the ``dask`` extra).
__getattr__ = dask_variant_attribute(__name__, "mirror_downloads_dask", mirror_downloads,
                                     "mirror-downloads-dask")


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
