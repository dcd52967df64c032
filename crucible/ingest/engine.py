"""The ingest engine: an instrument run becomes Crucible datasets, exactly once, without Prefect.

Every dataset's unique_id is derived from its identity (instrument, project, run, relative path,
sha256s), so the engine looks each one up before creating anything; uploads are deduplicated by
sha256; links are idempotent; a dataset is marked complete last. Re-running on unchanged input
creates and uploads nothing; a run killed at any point finishes the same datasets when started
again. See docs/ingest.md.

Shape (``crucible.jobs``): :meth:`IngestJob.plan` checks access, lists the run, holds back
files still being written, looks the run up once and deals the remaining file groups into
batches; :meth:`IngestJob.run_unit` ingests one batch; :meth:`IngestJob.finish` builds the
:class:`IngestReport`.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

import requests

from crucible.errors import CrucibleError
from crucible.jobs import Progress, ProgressCallback, UnitFailure

from . import discovery, extractors as extractors_mod, grouping as grouping_mod
from . import identity as ident
from .batching import failed_rows, make_batches, run_batch
from .hashcache import DigestCache, default_cache_path
from .models import FileGroup
from .ops import CrucibleOps
from .preflight import PreflightError, check_access
from .quiescence import split_settled
from .report import FileRow, IngestReport, Status
from .settings import IngestSettings
from .worker import GroupResult, RunContext, RunDataset, cached_digests, group_dataset_id, is_complete

#: ``link(report, rules)``: links the run's datasets to samples by rules, records the outcome.
SampleLinker = Callable[[IngestReport, list[dict]], None]

_START_ERRORS = (PreflightError, discovery.SourceError, grouping_mod.GroupingError,
                 extractors_mod.ExtractorError, ValueError, CrucibleError,
                 requests.RequestException)


class IngestJob:
    """One ingest run of ``settings`` with ``client`` (see the module docstring)."""

    TASK_NAME = "ingest-file-groups"

    def __init__(self, settings: IngestSettings, client: Any, *,
                 on_progress: ProgressCallback | None = None,
                 link_samples: SampleLinker | None = None) -> None:
        self.settings = settings
        self.client = client
        self.ops = CrucibleOps(client)
        self.report = IngestReport(path=settings.path, run=settings.run_name or "",
                                   mode=settings.mode)
        self.progress = Progress(on_progress)
        self.link_samples = link_samples or (lambda report, rules: link_by_rules(report, rules,
                                                                                   client))
        self.ctx: RunContext | None = None
        self._results: list[GroupResult] = []

    # Task runners that ship ``run_unit`` elsewhere (Dask) pickle the job: only the run context
    # travels (never the client, which holds the API key).
    def __getstate__(self) -> dict:
        return {"ctx": self.ctx}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    # ------------------------------------------------------------------ plan
    def plan(self) -> list[list[FileGroup]]:
        """Check, list, hold back, look up; the batches of file groups still to do."""
        try:
            groups = self._prepare()
        except _START_ERRORS as exc:
            text = str(exc)
            if isinstance(exc, (CrucibleError, requests.RequestException)):
                text = f"Crucible check failed ({type(exc).__name__}): {text}"
            self.report.errors.append(text)
            return []
        if groups is None:
            return []
        done, todo = self._look_up_run(groups)
        self._results.extend(done)
        self.progress.add_total(sum(len(g.files) for g in groups))
        self.progress.advance(sum(len(r.rows) for r in done))
        return make_batches(todo, self.settings.max_concurrency)

    def _prepare(self) -> list[FileGroup] | None:
        """Preflight and listing; None when there is nothing to ingest (reported)."""
        s = self.settings
        chosen = extractors_mod.resolve_all(["json_sidecar"] if s.extractors is None
                                            else s.extractors)
        grouping_mod.key_function(s.grouping)
        source = discovery.open_source(s.path, s.storage_options)
        run = s.run_name or source.name
        self.report.run = run
        owner = check_access(self.ops, project_id=s.project_id, instrument_name=s.instrument_name,
                             owner_orcid=s.owner_orcid, post_processing=s.post_processing or [],
                             ingestor=s.ingestor)
        entries = discovery.list_files(source, s.include, s.exclude)
        if not entries:
            self.report.errors.append(
                f"no files to ingest in {s.path} (empty, or everything excluded)")
            return None
        usable = self._classify(entries)
        ready, held = split_settled(grouping_mod.group_files(usable, s.grouping),
                                    s.settle_seconds if s.settle_seconds is not None else 30.0)
        for group, reason in held:
            self.report.files.extend(_rows(group, "held", reason))
        self.ctx = self._context(source, run, owner, chosen)
        return ready

    def _classify(self, entries: Sequence[discovery.FileEntry]) -> list[discovery.FileEntry]:
        usable = []
        for entry in entries:
            if not entry.regular:
                self.report.files.append(FileRow(
                    file=entry.rel, status="failed",
                    reason="unreadable: not a regular file (dangling link?)"))
            elif entry.size == 0:
                self.report.files.append(FileRow(file=entry.rel, status="skipped",
                                                 reason="zero-byte file"))
            else:
                usable.append(entry)
        return usable

    def _context(self, source: discovery.Source, run: str, owner: str,
                 chosen: list) -> RunContext:
        s = self.settings
        ctx = RunContext(
            fs=source.fs, protocol=_protocol(source.fs), source_url=display_url(s.path),
            is_local=source.is_local, instrument=s.instrument_name, project=s.project_id,
            run=run, owner=owner, mode=s.mode, sample_ids=list(dict.fromkeys(s.sample_ids or [])),
            keywords=list(dict.fromkeys(s.keywords or [])),
            static_metadata=s.scientific_metadata or {}, extractors=chosen, ingestor=s.ingestor,
            post_processing=list(s.post_processing or []),
        )
        if s.mode != "files":
            ctx.run_dataset = _run_dataset(ctx)
        ctx.cache = DigestCache(default_cache_path() if s.digest_cache else None)
        return ctx

    def _look_up_run(self, groups: list[FileGroup]) -> tuple[list[GroupResult], list[FileGroup]]:
        """One listing of this run's datasets before anything is created.

        The listing is filtered by project, instrument and ``session_name`` = run, so its cost
        follows the run's size, never the project's. Groups whose digests are all in the local
        ledger and whose datasets are complete are finished here, without reading a byte.
        (Mode ``single``: the dataset's files instead.)
        """
        ctx = self.ctx
        assert ctx is not None
        if not groups:
            return [], []
        cached = [(g, cached_digests(ctx, g)) for g in groups]
        if ctx.mode == "single":
            return self._look_up_single(cached)
        existing = self.ops.list_run_datasets(project_id=ctx.project,
                                              instrument_name=ctx.instrument, session_name=ctx.run)
        ctx.known = {d["unique_id"]: d for d in existing if d.get("unique_id")}
        done: list[GroupResult] = []
        todo: list[FileGroup] = []
        for group, digests in cached:
            dsid = group_dataset_id(ctx, group, digests) if digests else None
            if dsid is not None and is_complete(ctx.known.get(dsid)):
                done.append(GroupResult(_rows(group, "exists", dataset_id=dsid), dataset_id=dsid))
            else:
                todo.append(group)
        if done and ctx.run_dataset is not None:
            ctx.run_dataset.seen_complete()
        return done, todo

    def _look_up_single(self, cached: list) -> tuple[list[GroupResult], list[FileGroup]]:
        ctx = self.ctx
        assert ctx is not None and ctx.run_dataset is not None
        if not any(d for _, d in cached):
            return [], [g for g, _ in cached]
        container = ctx.run_dataset.id
        files = self.ops.dataset_files(container) if self.ops.get_dataset(container) else []
        stored = {f.get("sha256_hash") for f in files if f.get("storage_path")}
        done, todo = [], []
        for group, digests in cached:
            if digests and set(digests.values()) <= stored:
                done.append(GroupResult(_rows(group, "exists", dataset_id=container),
                                        dataset_id=container))
                ctx.run_dataset.seen_complete()
            else:
                todo.append(group)
        return done, todo

    # ------------------------------------------------------------------ run
    def run_unit(self, client: Any, batch: list[FileGroup]) -> list[GroupResult]:
        """Hash, find-or-create, upload and finish a batch of groups (each idempotent)."""
        assert self.ctx is not None
        return run_batch(CrucibleOps(client), self.ctx, batch)

    def unit_name(self, batch: list[FileGroup]) -> str:
        first = batch[0].key
        return f"ingest {first}" if len(batch) == 1 else f"ingest {first} +{len(batch) - 1} groups"

    def add_result(self, batch: list[FileGroup], result: Any) -> None:
        if isinstance(result, UnitFailure):  # the unit itself broke, not a group
            result = [GroupResult(failed_rows(g, result.error)) for g in batch]
        self._results.extend(result)
        self.progress.advance(sum(len(g.files) for g in batch))

    # ------------------------------------------------------------------ report
    def finish(self) -> IngestReport:
        """Fold the groups' results into the report; link samples by rules if asked."""
        report, ctx = self.report, self.ctx
        if ctx is not None and ctx.cache is not None:
            ctx.cache.close()
        for result in self._results:
            self._take(result)
        if ctx is not None and ctx.run_dataset is not None and ctx.run_dataset.ensured:
            self._finish_run_dataset(ctx.run_dataset)
        report.files.sort(key=lambda r: r.file)
        if self.settings.sample_rules and not report.errors:
            self.link_samples(report, list(self.settings.sample_rules))
        self.progress.finish()
        return report

    def _take(self, result: GroupResult) -> None:
        report, ctx = self.report, self.ctx
        if ctx is not None and ctx.run_dataset is not None:  # tasks may have worked on copies
            ctx.run_dataset.ensured |= result.run_dataset_ensured
            ctx.run_dataset.created |= result.run_dataset_created
        report.files.extend(result.rows)
        report.post_processing.extend(result.post_processing)
        if result.dataset_id and result.dataset_id not in report.datasets:
            report.datasets.append(result.dataset_id)
        if result.created and result.dataset_id:
            report.created.append(result.dataset_id)

    def _finish_run_dataset(self, run_dataset: RunDataset) -> None:
        report = self.report
        if run_dataset.created:
            report.created.insert(0, run_dataset.id)
        if report.mode == "session":
            report.parent_dataset_id = run_dataset.id
            report.datasets.insert(0, run_dataset.id)
        elif self.settings.post_processing and any(r.status == "ingested" for r in report.files):
            report.post_processing.extend(
                dict(self.ops.post_process(run_dataset.id, name), request_type=name,
                     dataset_mfid=run_dataset.id) for name in self.settings.post_processing)


def datasets_to_link(report: IngestReport) -> list[str]:
    """The run's datasets that samples are linked to (the children, not the session parent)."""
    return [d for d in report.datasets if d != report.parent_dataset_id] or list(report.datasets)


def link_by_rules(report: IngestReport, rules: list[dict], client: Any) -> None:
    """Link the run's datasets to samples by rules with the plain linking engine."""
    from crucible.linking import LinkJob, LinkSettings
    from crucible.jobs import ThreadRunner, run_job

    ids = datasets_to_link(report)
    if not ids:
        return
    job = LinkJob(LinkSettings.model_validate({"rules": rules, "dataset_ids": ids}), client)
    outcome = run_job(job, ThreadRunner(client, max_workers=1))
    report.sample_links = outcome.summary()
    if not outcome.ok:
        report.errors.append(f"linking samples by rules did not complete: {outcome.summary_text()}")


def _rows(group: FileGroup, status: Status, reason: str = "",
          dataset_id: str | None = None) -> list[FileRow]:
    return [FileRow(file=f.rel, dataset_id=dataset_id, bytes=f.size, status=status, reason=reason)
            for f in group.files]


def _run_dataset(ctx: RunContext) -> RunDataset:
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


def _protocol(fs: Any) -> str:
    proto = getattr(fs, "protocol", "file")
    return proto[0] if isinstance(proto, (tuple, list)) else str(proto)


def display_url(path: str) -> str:
    """The path as recorded in datasets: no password, no query string."""
    parts = urlsplit(path)
    if not parts.scheme or len(parts.scheme) == 1:  # local path (or a Windows drive)
        return path
    host = parts.hostname or ""
    if parts.username:
        host = f"{parts.username}@{host}"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
