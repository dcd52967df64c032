"""Ingest one file group: hash once, find or create its dataset by identity, upload, finish.

The steps, each safe to repeat after a crash or a retry:

1. hash every file once (or take the digest from the local ledger), stat again (still growing?);
2. derive the dataset id from the identity; take the dataset from the run's listing (the flow
   looked the run up before anything was created) or create it with that id (409: it exists
   after all, read it); if it is marked complete, stop here;
3. add keywords, upload each file with its known sha256 (a dedup hit uploads nothing) and
   request its ingestion;
4. link samples and the session parent;
5. once its ingestions ended (awaited for a whole batch of groups at once, see batching.py):
   post-processing requests, then one metadata PATCH, last: static + extracted metadata, an
   ``ingest`` provenance record and the completion mark (``ingest.complete``), so a re-run
   skips the dataset. A failed ingestion leaves the mark off (a re-run retries the group).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from typing import Any, Sequence

from . import identity as ident
from .extractors import Extractor, deep_merge, extract
from .hashcache import DigestCache
from .models import FileGroup
from .ops import CrucibleOps
from .quiescence import changed_reason
from .report import FileRow
from .staging import Staging


#: Files above this size count against ``MAX_BIG_UPLOADS`` (see RunContext.big_uploads).
BIG_FILE_BYTES = 8 * 1024 * 1024
MAX_BIG_UPLOADS = 4
#: The bound for contexts that arrived pickled (Dask): one per process, shared by its tasks.
_PROCESS_BIG_UPLOADS = threading.BoundedSemaphore(MAX_BIG_UPLOADS)


class HeldBack(Exception):
    """A file changed while it was read: the group waits for a later run."""


@dataclass
class RunContext:
    """Everything a group needs that is the same for the whole run."""

    fs: Any
    protocol: str
    source_url: str
    is_local: bool
    instrument: str
    project: str
    run: str
    owner: str
    mode: str
    run_dataset: "RunDataset | None" = None  # session parent, or the 'single' container
    sample_ids: Sequence[str] = ()
    keywords: Sequence[str] = ()
    static_metadata: dict = field(default_factory=dict)
    extractors: Sequence[tuple[str, Extractor]] = ()
    ingestor: str | None = None
    post_processing: Sequence[str] = ()
    cache: DigestCache | None = None
    known: dict = field(default_factory=dict)  # id -> dataset, from the run's listing
    #: Uploads of files bigger than ``BIG_FILE_BYTES`` at once: each holds an upload chunk
    #: (32 MiB) in memory, so this bounds the flow's memory whatever ``max_concurrency`` is.
    big_uploads: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(MAX_BIG_UPLOADS))

    # Task runners that ship arguments to other processes (Dask) pickle the context: the
    # filesystem pickles as its options, the digest cache as its path, the run dataset as its
    # record; the upload bound becomes the receiving process's own (see _PROCESS_BIG_UPLOADS).
    def __getstate__(self) -> dict:
        return {**self.__dict__, "big_uploads": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.big_uploads is None:
            self.big_uploads = _PROCESS_BIG_UPLOADS


class RunDataset:
    """The run-level dataset (session parent or single container), created on first need.

    Created lazily by the first group that has its digests, so a run whose files all fail or are
    held back leaves no empty parent behind. Thread-safe: groups run in parallel.
    """

    def __init__(self, record: dict, role: str, sample_ids: Sequence[str] = (),
                 keywords: Sequence[str] = (), metadata: dict | None = None):
        self.record, self.role = record, role
        self.sample_ids, self.keywords, self.metadata = sample_ids, keywords, metadata or {}
        self.created = False
        self.ensured = False
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict) -> None:
        """A copy in another process ensures the dataset itself (idempotent: a 409 reads it)."""
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return self.record["unique_id"]

    def seen_complete(self) -> None:
        """A complete child was found: it was linked to this dataset, so this one is done too."""
        with self._lock:
            self.ensured = True

    def ensure(self, ops: CrucibleOps) -> str:
        with self._lock:
            if not self.ensured:
                _, self.created = ops.ensure_dataset(self.record)
                ops.merge_metadata(self.id, {**self.metadata, "ingest": {
                    "scheme": ident.IDENTITY_SCHEME, "run": self.record.get("session_name"),
                    "role": self.role}})
                ops.add_keywords(self.id, self.keywords)
                for sample_id in self.sample_ids:
                    ops.link_sample(self.id, sample_id)
                self.ensured = True
        return self.id


@dataclass
class GroupResult:
    """What happened to one group (rows for the report, plus the dataset it belongs to)."""

    rows: list[FileRow]
    dataset_id: str | None = None
    created: bool = False
    post_processing: list[dict] = field(default_factory=list)
    #: What the run dataset looked like to the task after this group (its copy may live in
    #: another process): ensured = exists and is set up, created = made by that copy.
    run_dataset_ensured: bool = False
    run_dataset_created: bool = False


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).isoformat()


def digest_files(ctx: RunContext, group: FileGroup, staging: Staging) -> dict[str, str]:
    """sha256 per relative path: from the ledger, else one streaming read; HeldBack on growth."""
    digests: dict[str, str] = {}
    for entry in group.files:
        sha = ctx.cache.get(ctx.protocol, entry) if ctx.cache else None
        if sha is None:
            sha, read = staging.digest(entry)
            reason = changed_reason(ctx.fs, entry)
            if reason is None and read != entry.size:
                reason = f"still being written: {entry.rel} changed while it was read"
            if reason:
                raise HeldBack(reason)
            if ctx.cache:
                ctx.cache.put(ctx.protocol, entry, sha)
        digests[entry.rel] = sha
    return digests


def cached_digests(ctx: RunContext, group: FileGroup) -> dict[str, str] | None:
    """All digests of the group from the ledger, or None if any file would need reading."""
    if ctx.cache is None:
        return None
    out = {}
    for entry in group.files:
        sha = ctx.cache.get(ctx.protocol, entry)
        if sha is None:
            return None
        out[entry.rel] = sha
    return out


def group_dataset_id(ctx: RunContext, group: FileGroup, digests: dict[str, str]) -> str:
    return ident.identity_mfid(ident.group_identity(
        ctx.instrument, ctx.project, ctx.run, group.key, digests.items()))


def group_record(ctx: RunContext, group: FileGroup, dsid: str, digests: dict[str, str]) -> dict:
    """The dataset's fields (everything a search or the UI needs to find and recognise it)."""
    main = group.main
    return {
        "unique_id": dsid,
        "dataset_name": main.rel,
        "project_id": ctx.project,
        "instrument_name": ctx.instrument,
        "owner_orcid": ctx.owner,
        "session_name": ctx.run,
        "source_folder": ctx.source_url,
        "timestamp": _iso(main.mtime),
        "size": group.size,
        "data_format": main.suffix.lstrip(".") or None,
        "file_to_upload": main.rel,
        "sha256_hash_file_to_upload": digests[main.rel],
        "public": False,
    }


def provenance(ctx: RunContext, group: FileGroup, digests: dict[str, str]) -> dict:
    return {"ingest": {
        "scheme": ident.IDENTITY_SCHEME, "run": ctx.run, "group": group.key,
        "files": [{"path": f.rel, "sha256": digests[f.rel], "size": f.size} for f in group.files],
    }}


def is_complete(dataset: dict | None) -> bool:
    meta = (dataset or {}).get("scientific_metadata") or {}
    return bool(isinstance(meta, dict) and (meta.get("ingest") or {}).get("complete"))


@dataclass
class Started:
    """A group whose files are uploaded and whose ingestions are requested, not yet awaited.

    A batch starts all its groups, then learns how their ingestions ended in a few calls
    (:meth:`CrucibleOps.await_ingestions`) and finishes each with :func:`finish_group`.
    """

    group: FileGroup
    dsid: str
    digests: dict[str, str]
    stored: list[dict]  # per file of the group: the AssociatedFile upload answered
    dataset: dict = field(default_factory=dict)
    created: bool = False
    metadata: dict = field(default_factory=dict)
    single: bool = False  # mode 'single': the group's files went into the run's container

    def requests(self) -> list[dict]:
        return [r["ingestion_request"] for r in self.stored
                if not r.get("storage_path") and r.get("ingestion_request")]


def upload_files(ops: CrucibleOps, ctx: RunContext, dsid: str, group: FileGroup,
                 digests: dict[str, str], staging: Staging) -> list[dict]:
    """Upload each file of the group into ``dsid`` and request its ingestion (not awaited)."""
    stored = []
    for entry in group.files:
        with ctx.big_uploads if entry.size > BIG_FILE_BYTES else contextlib.nullcontext():
            stored.append(ops.upload(dsid, staging.local_path(entry), sha256=digests[entry.rel],
                                     relative_path=entry.rel, ingestor=ctx.ingestor))
    return stored


def file_rows(started: Started, outcomes: dict[int, dict]) -> list[FileRow]:
    """One row per file, from the upload's answer and the ingestion's final state."""
    rows = []
    for entry, stored in zip(started.group.files, started.stored):
        request: dict = stored.get("ingestion_request") or {}
        if request.get("id") in outcomes:
            request = outcomes[request["id"]]
        row = FileRow(file=entry.rel, dataset_id=started.dsid, bytes=entry.size,
                      status="ingested")
        if not (stored.get("storage_path") or request.get("status") == "complete"):
            detail = request.get("error_message") or ""
            row.status = "failed"
            row.reason = (f"ingestion {request.get('status') or 'not finished'}"
                          + (f": {detail}" if detail else ""))
        rows.append(row)
    return rows


def ingest_group(ops: CrucibleOps, ctx: RunContext, group: FileGroup) -> GroupResult:
    """Do (or finish) one group on its own: start it, await its ingestions, finish it."""
    started = start_group(ops, ctx, group)
    if isinstance(started, GroupResult):
        return started
    return finish_group(ops, ctx, started, ops.await_ingestions(started.requests()))


def start_group(ops: CrucibleOps, ctx: RunContext, group: FileGroup) -> GroupResult | Started:
    """Steps 1-4 of the module docstring: a result if the group ends here, else Started."""
    with Staging(ctx.fs, ctx.is_local) as staging:
        return _start_group(ops, ctx, group, staging)


def _start_group(ops: CrucibleOps, ctx: RunContext, group: FileGroup,
                 staging: Staging) -> GroupResult | Started:
    try:
        digests = digest_files(ctx, group, staging)
    except HeldBack as held:
        return GroupResult([FileRow(file=f.rel, bytes=f.size, status="held", reason=str(held))
                            for f in group.files])
    except OSError as exc:
        reason = f"unreadable: {type(exc).__name__}: {exc}"
        return GroupResult([FileRow(file=f.rel, bytes=f.size, status="failed", reason=reason)
                            for f in group.files])

    # Extract first: an extractor that fails must not leave an empty dataset behind.
    try:
        extracted = extract(group, ctx.fs, ctx.extractors)
    except ValueError as exc:
        return GroupResult([FileRow(file=f.rel, bytes=f.size, status="failed", reason=str(exc))
                            for f in group.files])
    if ctx.mode == "single":
        assert ctx.run_dataset is not None  # mode single always has its container
        container = ctx.run_dataset.ensure(ops)
        return Started(group, container, digests,
                       upload_files(ops, ctx, container, group, digests, staging),
                       metadata=extracted, single=True)

    dsid = group_dataset_id(ctx, group, digests)
    dataset, created = ctx.known.get(dsid), False
    if dataset is None:  # not in the run's listing: create it with its id (409: read it)
        dataset, created = ops.ensure_dataset(group_record(ctx, group, dsid, digests))
    if is_complete(dataset):
        if ctx.run_dataset is not None:
            ctx.run_dataset.seen_complete()
        return GroupResult([FileRow(file=f.rel, dataset_id=dsid, bytes=f.size, status="exists")
                            for f in group.files], dataset_id=dsid)
    ops.add_keywords(dsid, ctx.keywords)
    stored = upload_files(ops, ctx, dsid, group, digests, staging)
    for sample_id in ctx.sample_ids:
        ops.link_sample(dsid, sample_id)
    if ctx.run_dataset is not None:
        ops.link_child(ctx.run_dataset.ensure(ops), dsid)
    return Started(group, dsid, digests, stored, dataset=dataset or {}, created=created,
                   metadata=deep_merge(json.loads(json.dumps(ctx.static_metadata)), extracted))


def finish_group(ops: CrucibleOps, ctx: RunContext, started: Started,
                 outcomes: dict[int, dict]) -> GroupResult:
    """Step 5: rows from the ingestions' outcomes, post-processing, the completion mark."""
    rows = file_rows(started, outcomes)
    dsid, group = started.dsid, started.group
    if started.single:
        if started.metadata:  # per group, so two groups' sidecars cannot overwrite each other
            ops.merge_metadata(dsid, {"groups": {group.key: started.metadata}})
        return GroupResult(rows, dataset_id=dsid)
    result = GroupResult(rows, dataset_id=dsid, created=started.created)
    record = provenance(ctx, group, started.digests)
    if not any(r.status == "failed" for r in rows):  # else: not complete, a re-run retries
        done = ((started.dataset.get("scientific_metadata") or {}).get("ingest") or {}).get(
            "post_processing") or {}
        for name in ctx.post_processing:
            outcome = dict(done[name]) if done.get(name, {}).get("status") == "complete" else \
                ops.post_process(dsid, name)
            outcome.setdefault("request_type", name)
            outcome["dataset_mfid"] = dsid
            result.post_processing.append(outcome)
        record["ingest"]["post_processing"] = {
            p["request_type"]: {"status": p.get("status"), "id": p.get("id")}
            for p in result.post_processing}
        record["ingest"]["complete"] = all(
            p.get("status") == "complete" for p in result.post_processing)
    # One PATCH, last: metadata, provenance and the completion mark land together.
    ops.merge_metadata(dsid, {**started.metadata, **record})
    return result
