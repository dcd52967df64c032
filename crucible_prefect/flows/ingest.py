"""``ingest_instrument_output``: a finished instrument run becomes Crucible datasets, exactly once.

The work is the plain engine's (``crucible.ingest.IngestJob``, see docs/ingest.md); this flow
submits its units (batches of file groups) as ``ingest-file-groups`` tasks on the flow's task
runner, publishes the report as artifacts and ends in the one flow contract: the report is the
result; on failure the run ends Failed with an ``IngestFailed`` carrying the report.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from crucible.ingest.engine import IngestJob, datasets_to_link
from crucible.ingest.report import IngestFailed, IngestReport, report_from_state
from crucible.ingest.settings import MAX_WORKERS, IngestSettings, Mode
from crucible.jobs import run_job
from crucible_prefect.artifacts import ProgressArtifact, artifact_key
from crucible_prefect.credentials import CrucibleCredentials
from crucible_prefect.flows.contract import check_no_secrets, finish_flow, load_storage_secret
from crucible_prefect.runners import TaskRunner, dask_variant
from crucible_prefect.tasks.common import client_for, run_logger

__all__ = ["IngestFailed", "IngestReport", "ingest_instrument_output",
           "ingest_instrument_output_dask", "report_from_state"]


@flow(name="ingest-instrument-output",
      task_runner=ThreadPoolTaskRunner(max_workers=MAX_WORKERS),  # type: ignore[arg-type]
      validate_parameters=True)
def ingest_instrument_output(
    path: str,
    instrument_name: str,
    project_id: str,
    owner_orcid: Optional[str] = None,
    mode: Optional[Mode] = "session",
    include: Optional[list[str]] = None,
    exclude: Optional[list[str]] = None,
    grouping: Optional[str] = "stem",
    run_name: Optional[str] = None,
    sample_ids: Optional[list[str]] = None,
    sample_rules: Optional[list[dict]] = None,
    keywords: Optional[list[str]] = None,
    scientific_metadata: Optional[dict] = None,
    extractors: Optional[list[str]] = None,
    ingestor: Optional[str] = None,
    post_processing: Optional[list[str]] = None,
    settle_seconds: Optional[float] = 30.0,
    max_concurrency: Optional[int] = 8,
    concurrency_limit: Optional[str] = None,
    storage_options: Optional[dict] = None,
    storage_secret: Optional[str] = None,
    digest_cache: Optional[bool] = True,
    credentials: Union[CrucibleCredentials, str, None] = None,
) -> IngestReport:
    """Turn an instrument run (a folder, a file or an fsspec URL) into Crucible datasets.

    Args:
        path: The run: a local folder or file, or an fsspec URL (``sftp://pc/run7``, ``s3://b/run7``).
        instrument_name: The instrument as registered in Crucible (checked before anything is made).
        project_id: The Crucible project the datasets go to (the key must be a member).
        owner_orcid: Owner of the datasets; default: the API key's user.
        mode: ``session``: one parent dataset for the run plus one child per file group;
            ``files``: one dataset per file group; ``single``: one dataset with every file.
        include: Globs a file must match (any); see docs/globs.md.
        exclude: Globs that drop files (and, without '/', folders); default: hidden and temp files.
        grouping: How companion files are grouped: ``stem``, ``file`` or ``regex:<pattern>``.
        run_name: The run's name (session name, parent dataset name); default: the folder name.
        sample_ids: Link every dataset to these samples.
        sample_rules: Rules for the link-samples flow (by name, regex, metadata, holder position).
        keywords: Keywords added to every dataset.
        scientific_metadata: Static metadata merged into every dataset.
        extractors: Metadata extractors: ``json_sidecar`` (default) or ``package.module:function``.
        ingestor: Server ingestion class for the uploaded files (default: the server's choice).
        post_processing: Processing requests filed for each dataset after ingestion (awaited).
        settle_seconds: Files modified more recently than this are held back for a later run.
        max_concurrency: File groups processed in parallel (1-64).
        concurrency_limit: Name of a Prefect global concurrency limit to hold per unit of work.
        storage_options: fsspec options for ``path`` (host, port, ...). Secrets are refused
            (crucible/secrets.py): parameters are visible in the Prefect UI.
        storage_secret: Name of a Prefect Secret block holding a JSON object of secret fsspec
            options (password, key, ...), merged into ``storage_options`` at run time.
        digest_cache: Remember file digests locally (by path, size, mtime) so re-runs read nothing.
        credentials: A CrucibleCredentials block or its name; None: CRUCIBLE_API_KEY/config file.
    """
    params = dict(locals())
    for name in ("concurrency_limit", "storage_secret", "credentials"):
        params.pop(name)
    report = IngestReport(path=path, run=run_name or "", mode=mode or "session")
    try:
        check_no_secrets(path, storage_options, what="path")
        params["storage_options"] = load_storage_secret(storage_options, storage_secret)
        settings = IngestSettings.from_parameters(**params)
        client = client_for(credentials)
    except Exception as exc:  # bad parameters or credentials: a report that says so
        report.errors.append(f"{type(exc).__name__}: {exc}")
        run_logger().error("ingest not started: %s", exc)
        return finish_flow(report, IngestFailed, artifact_key("ingest", report.run or path),
                           "ingest")
    job = IngestJob(settings, client,
                    link_samples=lambda rep, rules: _link_by_rules(rep, rules, credentials))
    job.progress.callback = ProgressArtifact(f"files of {settings.run_name or path}")
    runner = TaskRunner(credentials, task_name=IngestJob.TASK_NAME,
                        max_in_flight=settings.max_concurrency,
                        concurrency_limit=concurrency_limit)
    report = run_job(job, runner)
    return finish_flow(report, IngestFailed, artifact_key("ingest", report.run), "ingest")


def _link_by_rules(report: IngestReport, rules: list[dict], credentials: Any) -> None:
    """Hand the datasets of this run to the link-samples flow (as a subflow)."""
    from crucible_prefect.flows.link import link_datasets_to_samples

    ids = datasets_to_link(report)
    if not ids:
        return
    state = link_datasets_to_samples(dataset_ids=ids, rules=rules, credentials=credentials,
                                     artifact_key=f"{artifact_key('ingest', report.run)}-samples",
                                     return_state=True)
    result = state.result(raise_on_failure=False)
    link_report = getattr(result, "report", result)
    if hasattr(link_report, "summary"):
        report.sample_links = link_report.summary()
    if not state.is_completed():
        report.errors.append(f"linking samples by rules did not complete: {state.message}")


#: The same flow with its tasks on Dask (configuration: crucible_prefect/runners.py).
ingest_instrument_output_dask = dask_variant(ingest_instrument_output,
                                             "ingest-instrument-output-dask")
