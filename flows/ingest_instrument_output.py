"""``ingest_instrument_output``: a finished instrument run becomes Crucible datasets, exactly once.

See docs/ingest.md for the parameters, the modes and what "exactly once" rests on. In short:
every dataset's unique_id is derived from its identity (instrument, project, run, relative path,
sha256s), so the flow looks each one up with one GET before creating anything; uploads are
deduplicated by sha256; links are idempotent; a dataset is marked complete last. Re-running on
unchanged input creates and uploads nothing; a run killed at any point finishes the same datasets
when started again.
"""

from __future__ import annotations

import queue
from typing import Any, Literal, Optional, Union

import requests
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed
from prefect.task_runners import ThreadPoolTaskRunner

from crucible.errors import CrucibleError
from crucible_prefect.runners import dask_variant_attribute
from crucible_prefect.credentials import CrucibleCredentials
from flows.ingest import discovery, extractors as extractors_mod, grouping as grouping_mod
from flows.ingest import identity as ident
from flows.ingest.batching import failed_rows, make_batches, run_batch
from flows.ingest.hashcache import DigestCache, default_cache_path
from flows.ingest.models import FileGroup
from flows.ingest.ops import CrucibleOps
from flows.ingest.preflight import PreflightError, check_access, load_client, run_logger
from flows.ingest.quiescence import split_settled
from flows.ingest.report import (
    FileRow,
    IngestFailed,
    IngestReport,
    Progress,
    artifact_key,
    publish,
    report_from_state,
)
from flows.ingest.worker import (
    GroupResult,
    RunContext,
    RunDataset,
    cached_digests,
    group_dataset_id,
    is_complete,
)

__all__ = ["IngestFailed", "IngestReport", "ingest_instrument_output",
           "ingest_instrument_output_dask", "report_from_state"]

Mode = Literal["session", "files", "single"]

#: Upper bound for ``max_concurrency`` (the flow's thread pool size).
MAX_WORKERS = 64


@task(name="ingest-file-groups", tags=["crucible"], cache_policy=NO_CACHE,
      task_run_name="ingest {batch_name}")
def ingest_file_groups(ctx: RunContext, groups: list[FileGroup], credentials: Any,
                       concurrency_limit: Optional[str] = None,
                       batch_name: str = "") -> list[GroupResult]:
    """Hash, find-or-create, upload and finish a batch of file groups (each idempotent).

    Every argument pickles (Dask ships them to other processes; the context as its fs options,
    digest-cache path and run-dataset record) and everything the flow needs comes back in the
    results. Retries happen per group inside (transient errors only), so the task has none.
    """
    ops = CrucibleOps(load_client(credentials))
    return run_batch(ops, ctx, groups, concurrency_limit=concurrency_limit)


def _rows(group: FileGroup, status: str, reason: str = "", dataset_id: str | None = None) -> list[FileRow]:
    return [FileRow(file=f.rel, dataset_id=dataset_id, bytes=f.size, status=status, reason=reason)
            for f in group.files]


def _finish(report: IngestReport, key: str) -> Any:
    """Publish artifacts and turn the report into the run's final state."""
    try:
        publish(report, key=key)
    except Exception as exc:  # artifacts are a convenience; never lose the report over them
        run_logger().warning("could not publish the ingest artifacts: %s", exc)
    logger = run_logger()
    bad = [r for r in report.files if r.status in ("failed", "held")]
    for row in bad[:20]:
        logger.warning("%s %s: %s", row.status, row.file, row.reason)
    if len(bad) > 20:
        logger.warning("... and %d more (see the table artifact)", len(bad) - 20)
    logger.info(report.summary())
    if report.ok:
        return Completed(message=report.summary(), data=report)
    bad_pp = any(p.get("status") != "complete" for p in report.post_processing)
    name = "Failed" if (report.errors or report.failed or bad_pp) else "Incomplete"
    return Failed(name=name, message=report.summary(), data=IngestFailed(report))


@flow(name="ingest-instrument-output", task_runner=ThreadPoolTaskRunner(max_workers=MAX_WORKERS),
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
        include: Globs a file must match (any); a glob without '/' matches the file name.
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
        concurrency_limit: Name of a Prefect global concurrency limit to hold per file group.
        storage_options: fsspec options for ``path`` (host, port, ...; no secrets: parameters
            are visible in the Prefect UI).
        storage_secret: Name of a Prefect Secret block holding a JSON object of secret fsspec
            options (password, key, ...), merged into ``storage_options`` at run time.
        digest_cache: Remember file digests locally (by path, size, mtime) so re-runs read nothing.
        credentials: A CrucibleCredentials block or its name; None: CRUCIBLE_API_KEY/config file.
    """
    logger = run_logger()
    # None means "the default" (event-triggered deployments template absent keys as None).
    mode = mode or "session"
    grouping = grouping or "stem"
    settle_seconds = 30.0 if settle_seconds is None else settle_seconds
    max_concurrency = 8 if max_concurrency is None else max_concurrency
    digest_cache = True if digest_cache is None else digest_cache
    report = IngestReport(path=path, run=run_name or "", mode=mode)
    key = "ingest"
    try:
        if not 1 <= max_concurrency <= MAX_WORKERS:
            raise PreflightError(f"max_concurrency must be between 1 and {MAX_WORKERS}")
        chosen = extractors_mod.resolve_all(["json_sidecar"] if extractors is None else extractors)
        grouping_mod.key_function(grouping)
        source = discovery.open_source(path, _storage_options(storage_options, storage_secret))
        run = run_name or source.name
        report.run, key = run, artifact_key(run)
        client = load_client(credentials)
        ops = CrucibleOps(client)
        owner = check_access(ops, project_id=project_id, instrument_name=instrument_name,
                             owner_orcid=owner_orcid, post_processing=post_processing or [],
                             ingestor=ingestor)
        entries = discovery.list_files(source, include, exclude)
    except (PreflightError, discovery.SourceError, grouping_mod.GroupingError,
            extractors_mod.ExtractorError, ValueError, CrucibleError,
            requests.RequestException) as exc:
        text = str(exc)
        if isinstance(exc, (CrucibleError, requests.RequestException)):
            text = f"Crucible check failed ({type(exc).__name__}): {text}"
        report.errors.append(text)
        logger.error("ingest not started: %s", exc)
        return _finish(report, key)

    # ------------------------------------------------------------ classify the files
    usable = []
    for entry in entries:
        if not entry.regular:
            report.files.append(FileRow(file=entry.rel, status="failed",
                                        reason="unreadable: not a regular file (dangling link?)"))
        elif entry.size == 0:
            report.files.append(FileRow(file=entry.rel, status="skipped", reason="zero-byte file"))
        else:
            usable.append(entry)
    if not entries:
        report.errors.append(f"no files to ingest in {path} (empty, or everything excluded)")
        return _finish(report, key)
    groups = grouping_mod.group_files(usable, grouping)
    ready, held = split_settled(groups, settle_seconds)
    for group, reason in held:
        report.files.extend(_rows(group, "held", reason))

    ctx = RunContext(
        fs=source.fs, protocol=_protocol(source.fs), source_url=_display_url(path),
        is_local=source.is_local, instrument=instrument_name, project=project_id, run=run,
        owner=owner, mode=mode, sample_ids=list(dict.fromkeys(sample_ids or [])),
        keywords=list(dict.fromkeys(keywords or [])), static_metadata=scientific_metadata or {},
        extractors=chosen, ingestor=ingestor, post_processing=list(post_processing or []),
    )
    if mode != "files":
        ctx.run_dataset = _run_dataset(ctx, source)
    cache = DigestCache(default_cache_path() if digest_cache else None)
    ctx.cache = cache
    try:
        results = _run_groups(ctx, ops, ready, credentials, max_concurrency, concurrency_limit,
                              report)
    finally:
        cache.close()

    for result in results:
        if ctx.run_dataset is not None:  # tasks may have worked on copies (Dask)
            ctx.run_dataset.ensured |= result.run_dataset_ensured
            ctx.run_dataset.created |= result.run_dataset_created
        report.files.extend(result.rows)
        report.post_processing.extend(result.post_processing)
        if result.dataset_id and result.dataset_id not in report.datasets:
            report.datasets.append(result.dataset_id)
        if result.created:
            report.created.append(result.dataset_id)
    if ctx.run_dataset is not None and ctx.run_dataset.ensured:
        if ctx.run_dataset.created:
            report.created.insert(0, ctx.run_dataset.id)
        if mode == "session":
            report.parent_dataset_id = ctx.run_dataset.id
            report.datasets.insert(0, ctx.run_dataset.id)
        elif ctx.post_processing and any(r.status == "ingested" for r in report.files):
            report.post_processing.extend(
                dict(ops.post_process(ctx.run_dataset.id, name), request_type=name,
                     dataset_mfid=ctx.run_dataset.id) for name in ctx.post_processing)
    report.files.sort(key=lambda r: r.file)
    if sample_rules:
        _link_by_rules(report, sample_rules, credentials)
    return _finish(report, key)


def _run_groups(ctx: RunContext, ops: CrucibleOps, groups: list[FileGroup], credentials: Any,
                max_concurrency: int, concurrency_limit: str | None,
                report: IngestReport) -> list[GroupResult]:
    """Look the run up (one listing), run what is not complete as bounded parallel tasks."""
    results, todo = _look_up_run(ctx, ops, groups)
    if not todo:
        return results
    progress = Progress(sum(len(g.files) for g in groups), f"files of {ctx.run}")
    progress.advance(sum(len(r.rows) for r in results))
    # At most max_concurrency batches in flight; results (and progress) handled in this thread
    # as futures finish, whatever the task runner (thread pool, Dask).
    finished: queue.SimpleQueue = queue.SimpleQueue()
    batches: dict[int, list[FileGroup]] = {}  # id(future) -> its batch
    in_flight = 0

    def collect() -> None:
        nonlocal in_flight
        future = finished.get()
        in_flight -= 1
        batch = batches.pop(id(future))
        try:
            done = future.result(raise_on_failure=True)
        except Exception as exc:  # the task itself broke (not a group): report its groups
            done = [GroupResult(failed_rows(g, exc)) for g in batch]
        results.extend(done)
        progress.advance(sum(len(g.files) for g in batch))

    for batch in make_batches(todo, max_concurrency):
        while in_flight >= max_concurrency:
            collect()
        name = batch[0].key if len(batch) == 1 else f"{batch[0].key} +{len(batch) - 1} groups"
        future = ingest_file_groups.submit(ctx, batch, credentials, concurrency_limit,
                                           batch_name=name)
        batches[id(future)] = batch
        in_flight += 1
        future.add_done_callback(finished.put)
    while in_flight:
        collect()
    return results


def _look_up_run(ctx: RunContext, ops: CrucibleOps,
                 groups: list[FileGroup]) -> tuple[list[GroupResult], list[FileGroup]]:
    """The lookup before anything is created: one listing of this run's datasets.

    The listing is filtered by project, instrument and ``session_name`` = run, so its cost
    follows the run's size (one call per 1000 datasets), never the project's. It fills
    ``ctx.known`` (id -> dataset with metadata), so a group whose id is listed is not created
    again. Groups whose digests are all in the local ledger and whose datasets are complete are
    finished right here, without a task or a byte read. (Mode ``single``: the dataset's files.)
    """
    if not groups:
        return [], []
    cached = [(g, cached_digests(ctx, g)) for g in groups]
    done: list[GroupResult] = []
    todo: list[FileGroup] = []
    if ctx.mode == "single":
        if not any(d for _, d in cached):
            return [], list(groups)
        container = ctx.run_dataset.id
        files = ops.dataset_files(container) if ops.get_dataset(container) else []
        stored = {f.get("sha256_hash") for f in files if f.get("storage_path")}
        for group, digests in cached:
            if digests and set(digests.values()) <= stored:
                done.append(GroupResult(_rows(group, "exists", dataset_id=container),
                                        dataset_id=container))
                ctx.run_dataset.seen_complete()
            else:
                todo.append(group)
        return done, todo
    existing = ops.list_run_datasets(project_id=ctx.project, instrument_name=ctx.instrument,
                                     session_name=ctx.run)
    ctx.known = {d["unique_id"]: d for d in existing if d.get("unique_id")}
    for group, digests in cached:
        dsid = group_dataset_id(ctx, group, digests) if digests else None
        if dsid is not None and is_complete(ctx.known.get(dsid)):
            done.append(GroupResult(_rows(group, "exists", dataset_id=dsid), dataset_id=dsid))
        else:
            todo.append(group)
    if done and ctx.run_dataset is not None:
        ctx.run_dataset.seen_complete()
    return done, todo


def _run_dataset(ctx: RunContext, source: discovery.Source) -> RunDataset:
    """The session parent or the single dataset; its id depends on the run, not on the files."""
    role = "session" if ctx.mode == "session" else "single"
    dsid = ident.identity_mfid(ident.run_identity(ctx.instrument, ctx.project, ctx.run, role))
    name = f"{ctx.instrument} session: {ctx.run}" if role == "session" else ctx.run
    record = {
        "unique_id": dsid, "dataset_name": name, "project_id": ctx.project,
        "instrument_name": ctx.instrument, "owner_orcid": ctx.owner, "session_name": ctx.run,
        "source_folder": ctx.source_url, "measurement": f"{ctx.instrument} {role}",
        "public": False,
    }
    return RunDataset(record, role, sample_ids=ctx.sample_ids, keywords=ctx.keywords,
                      metadata=ctx.static_metadata)


def _link_by_rules(report: IngestReport, rules: list[dict], credentials: Any) -> None:
    """Hand the datasets of this run to the link-samples flow (as a subflow)."""
    try:
        from flows.link_datasets_to_samples import link_datasets_to_samples
    except ImportError as exc:
        report.errors.append(f"sample_rules given but the link-samples flow is unavailable: {exc}")
        return
    ids = [d for d in report.datasets if d != report.parent_dataset_id] or report.datasets
    if not ids:
        return
    state = link_datasets_to_samples(dataset_ids=ids, rules=rules, credentials=credentials,
                                     artifact_key=f"{artifact_key(report.run)}-samples",
                                     return_state=True)
    if not state.is_completed():
        report.errors.append(f"linking samples by rules did not complete: {state.message}")
        return
    result = state.result(raise_on_failure=False)
    if isinstance(result, dict):
        report.sample_links = {k: v for k, v in result.items() if k != "rows"}


def _storage_options(options: dict | None, secret_name: str | None) -> dict:
    """Plain options plus the secret ones from a Secret block (never logged or returned)."""
    merged = dict(options or {})
    if secret_name:
        from prefect.blocks.system import Secret

        try:
            secret = Secret.load(secret_name).get()
        except ValueError as exc:
            raise PreflightError(f"storage_secret: cannot load Secret block {secret_name!r}: {exc}") from None
        if not isinstance(secret, dict):
            raise PreflightError(f"storage_secret: Secret block {secret_name!r} must hold a JSON object")
        merged.update(secret)
    return merged


def _protocol(fs: Any) -> str:
    proto = getattr(fs, "protocol", "file")
    return proto[0] if isinstance(proto, (tuple, list)) else str(proto)


def _display_url(path: str) -> str:
    """The path as recorded in datasets: no password, no query string."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(path)
    if not parts.scheme or len(parts.scheme) == 1:  # local path (or a Windows drive)
        return path
    host = parts.hostname or ""
    if parts.username:
        host = f"{parts.username}@{host}"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


#: ``ingest_instrument_output_dask``: the same flow on a Dask task runner, made on first use
#: (configuration: crucible_prefect/runners.py; needs the ``dask`` extra).
__getattr__ = dask_variant_attribute(__name__, "ingest_instrument_output_dask", ingest_instrument_output,
                                     "ingest-instrument-output-dask")
