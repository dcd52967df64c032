"""``mirror_downloads``: mirror Crucible datasets to any fsspec destination, verified, incremental.

The work is the plain engine's (``crucible.mirror.MirrorJob``, see docs/mirror.md): every
ingested file is copied from its signed URL straight into the destination (``file://``,
``s3://``, ``gs://``, ``sftp://``, ``memory://``, ... or a Prefect ``RemoteFileSystem`` block),
checked against Crucible's sha256 while it streams; a manifest at the destination makes re-runs
cheap. This flow submits one ``mirror-dataset`` task per dataset and ends in the one flow
contract: the report is the result; on failure the run ends Failed with a ``MirrorFailed``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from prefect import flow

from crucible.jobs import run_job
from crucible.mirror import (DEFAULT_RECORD_TEMPLATE, DEFAULT_TEMPLATE, Destination, MirrorFailed,
                             MirrorJob, MirrorOptions, MirrorReport, Query, open_destination)
from crucible_prefect.artifacts import ProgressArtifact
from crucible_prefect.credentials import CrucibleCredentials
from crucible_prefect.flows.contract import check_no_secrets, finish_flow, load_storage_secret
from crucible_prefect.runners import TaskRunner, dask_variant
from crucible_prefect.tasks.common import client_for

__all__ = ["MirrorFailed", "MirrorReport", "mirror_downloads", "mirror_downloads_dask",
           "open_destination_or_block"]


def open_destination_or_block(url: str | None, storage_options: dict[str, Any] | None,
                              block_name: str | None) -> Destination:
    """An fsspec URL (plus options) or a saved Prefect ``RemoteFileSystem`` block, not both."""
    if (url is None) == (block_name is None):
        raise ValueError("give exactly one of destination (an fsspec URL) or destination_block")
    options = dict(storage_options or {})
    if block_name is not None:
        from prefect.filesystems import RemoteFileSystem

        block = cast(Any, RemoteFileSystem.load(block_name))
        url = block.basepath
        options = {**block.settings, **options}
    assert url is not None
    return open_destination(url, options)


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
    storage_secret: str | None = None,
    destination_block: str | None = None,
    layout: str = DEFAULT_TEMPLATE,
    record_layout: str | None = DEFAULT_RECORD_TEMPLATE,
    delete_extraneous: bool = False,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    max_concurrency: int = 4,
    credentials: CrucibleCredentials | str | None = None,
    artifact_key: str | None = "crucible-mirror",
) -> MirrorReport:
    """Mirror the selected datasets to ``destination`` (an fsspec URL) or ``destination_block``.

    Returns the report (``report.summary()``: counts per status, bytes copied, failures). The
    run fails if any file failed; everything else was still mirrored and recorded in the manifest.
    ``include``/``exclude`` are globs on the files' relative paths (docs/globs.md).
    ``storage_options`` holding a secret (a key, password, token, ...) are refused before
    anything is done: give secrets as ``storage_secret``, the name of a Prefect Secret block
    holding a JSON object of fsspec options, merged into ``storage_options`` at run time.
    """
    check_no_secrets(destination, storage_options)
    options = MirrorOptions(template=layout, record_template=record_layout,
                            delete_extraneous=delete_extraneous, max_concurrency=max_concurrency,
                            include=tuple(include or ()), exclude=tuple(exclude or ()))
    query = Query(dataset_ids=tuple(dataset_ids or ()), project_id=project_id, sample_id=sample_id,
                  include_descendants=include_descendants, keyword=keyword,
                  instrument_name=instrument_name, created_since=created_since)
    dest = open_destination_or_block(destination, load_storage_secret(storage_options, storage_secret),
                                     destination_block)
    job = MirrorJob(query, dest, client_for(credentials), options,
                    on_progress=ProgressArtifact(f"Mirror to {dest.url}"))
    runner = TaskRunner(credentials, task_name=MirrorJob.TASK_NAME,
                        max_in_flight=max(4, 2 * max_concurrency))
    report = run_job(job, runner)
    return finish_flow(report, MirrorFailed, artifact_key, "mirror")


#: The same flow with its tasks on Dask (configuration: crucible_prefect/runners.py).
mirror_downloads_dask = dask_variant(mirror_downloads, "mirror-downloads-dask")
