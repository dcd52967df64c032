"""The mirror itself: plan each dataset against the manifest, copy what changed, in parallel.

Skip rule (no download): the manifest says this path holds Crucible's current size and sha256
*and* the destination listing (one per directory) shows the file with that size. A file present
with the right size but missing from the manifest (a run killed after the copy, before the
journal flush) is re-hashed at the destination instead of downloaded ("verified").
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from .destination import Destination
from .fetch import CHUNK_SIZE, TransferError, copy_verified
from .manifest import Entry, Manifest
from .paths import DEFAULT_RECORD_TEMPLATE, DEFAULT_TEMPLATE, UnsafePathError, check_template, render
from crucible.globs import select
from crucible.jobs import Progress, ProgressCallback

from .report import COPIED, DELETED, FAILED, SKIPPED, VERIFIED, FileResult, MirrorReport
from .selection import RemoteFile, Source


@dataclass
class MirrorOptions:
    """Knobs of a mirror run (all JSON-able, so the flow can take them as parameters)."""

    template: str = DEFAULT_TEMPLATE
    record_template: str | None = DEFAULT_RECORD_TEMPLATE
    delete_extraneous: bool = False
    max_concurrency: int = 4
    chunk_size: int = CHUNK_SIZE
    #: Globs on the files' relative paths (crucible/globs.py): only matching files are mirrored.
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_template(self.template)
        if self.record_template:
            check_template(self.record_template)
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")


class Mirror:
    """One mirror run to one destination. Use as a context manager; call :meth:`dataset`."""

    def __init__(self, source: Source, dest: Destination, options: MirrorOptions | None = None,
                 *, on_progress: ProgressCallback | None = None) -> None:
        self.source = source
        self.dest = dest
        self.options = options or MirrorOptions()
        self.manifest = Manifest(dest)
        self.progress = Progress(on_progress)
        self.report = MirrorReport(destination=dest.url)
        self._pool = ThreadPoolExecutor(self.options.max_concurrency, thread_name_prefix="mirror")
        self._lock = threading.Lock()
        self._claimed: dict[str, tuple[str, str]] = {}  # path -> (dataset id, file id)

        #: True for the mirror of a whole run (it compacts the manifest at the end); False for
        #: a helper doing some datasets of that run in another process (see flows/mirror/job.py).
        self.owns_run = True
        #: Compaction also folds in journal segments other processes wrote (Dask tasks).
        self.absorb_foreign = False

    def __enter__(self) -> "Mirror":
        self._started = time.perf_counter()
        self.manifest.load()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if not self.owns_run:
            self.manifest.close()  # journaled for the run's own mirror to fold in
            return
        self.manifest.compact(absorb=self.absorb_foreign)
        self.report.listing_calls = self.dest.listing_calls
        self.report.seconds = time.perf_counter() - getattr(self, "_started", time.perf_counter())
        self.progress.finish()

    # -- one dataset ---------------------------------------------------------------------
    def dataset(self, dataset_id: str) -> list[FileResult]:
        """Mirror one dataset; returns its results (also added to :attr:`report`)."""
        try:
            record = self.source.dataset(dataset_id)
            files = self.source.files(dataset_id)
        except Exception as exc:  # the whole dataset is unreadable: one failed row
            return self._add([FileResult(dataset_id, "", FAILED, error=f"cannot list dataset: {exc}")])
        fields = {"project_id": record.get("project_id"), "dataset_id": dataset_id,
                  "dataset_name": record.get("dataset_name"),
                  "instrument_name": record.get("instrument_name")}
        files = [f for f in files if self._selected(f)]
        links = _LazyLinks(self.source, dataset_id)
        self.progress.add_total(len(files) + (1 if self.options.record_template else 0))
        results: list[FileResult] = []
        futures: list[Future] = []
        expected: set[str] = set()
        for remote in files:
            try:
                if remote.path_error:
                    raise UnsafePathError(remote.path_error)
                relative = remote.relative_path or ""
                path = render(self.options.template, {
                    **fields, "relative_path": relative, "file_id": remote.file_id,
                    "filename": relative.rsplit("/", 1)[-1]})
                self._claim(path, (dataset_id, remote.file_id))
            except UnsafePathError as exc:
                results.append(self._done(FileResult(dataset_id, _shown(remote), FAILED,
                                                     file_id=remote.file_id, error=_message(exc))))
                continue
            expected.add(path)
            futures.append(self._submit(self._one_file, remote, path, links))
        if self.options.record_template:
            try:
                record_path = render(self.options.record_template, fields)
                self._claim(record_path, (dataset_id, "record.json"))
                expected.add(record_path)
                futures.append(self._submit(self._record, {**record, "unique_id": dataset_id},
                                        files, record_path))
            except UnsafePathError as exc:
                results.append(self._done(FileResult(dataset_id, "record.json", FAILED,
                                                     error=_message(exc))))
        results += [f.result() for f in futures]
        self._clean_partials(expected)
        if self.options.delete_extraneous:
            results += self._delete_extraneous(dataset_id, expected)
        return self._add(results)

    def _one_file(self, remote: RemoteFile, path: str, links: "_LazyLinks") -> FileResult:
        base = FileResult(remote.dataset_id, path, FAILED, file_id=remote.file_id)
        try:
            if not remote.ingested:
                raise TransferError("not ingested yet: Crucible has no download link for it")
            if not remote.sha256:
                raise TransferError("Crucible records no sha256 for this file: cannot verify a copy")
            entry = self.manifest.get(path)
            have = self.dest.existing_size(path)
            sha = remote.sha256.lower()
            if entry and entry.sha256 == sha and have == entry.size and remote.size in (None, entry.size):
                return self._done(base.model_copy(update={"status": SKIPPED}))
            if entry is None and have is not None and have == remote.size and self._rehash(path) == sha:
                self._remember(path, have, sha, remote)
                return self._done(base.model_copy(update={"status": VERIFIED}))
            result = copy_verified(lambda refresh: links.get(remote.file_id, refresh), self.dest,
                                   path, expected_size=remote.size, expected_sha256=sha,
                                   transport=getattr(self.source, "transport", None),
                                   chunk_size=self.options.chunk_size)
            self._remember(path, result.size, sha, remote)
            return self._done(base.model_copy(update={"status": COPIED, "bytes": result.size}))
        except Exception as exc:
            return self._done(base.model_copy(update={"reason": _message(exc)}))

    def _record(self, record: dict, files: list[RemoteFile], path: str) -> FileResult:
        dataset_id = record.get("unique_id") or ""
        try:
            body = record_json(record, files)
            sha = hashlib.sha256(body).hexdigest()
            entry = self.manifest.get(path)
            if entry and entry.sha256 == sha and self.dest.existing_size(path) == len(body):
                return self._done(FileResult(dataset_id, path, SKIPPED))
            self.dest.write_bytes(path, body)
            self.manifest.record(Entry(path, len(body), sha, dataset_id, None))
            return self._done(FileResult(dataset_id, path, COPIED, bytes=len(body)))
        except Exception as exc:
            return self._done(FileResult(dataset_id, path, FAILED, error=_message(exc)))

    # -- helpers -------------------------------------------------------------------------
    def _selected(self, remote: RemoteFile) -> bool:
        """Include/exclude globs on the relative path, before any path check (a file the
        filters leave out is never judged); a file with no path at all is kept and reported."""
        if not (self.options.include or self.options.exclude) or remote.relative_path is None:
            return True
        return select(remote.relative_path, self.options.include, self.options.exclude)

    def _submit(self, fn, *args) -> Future:
        """Run ``fn`` in the pool with the caller's context (Prefect settings and run context)."""
        return self._pool.submit(contextvars.copy_context().run, fn, *args)

    def _claim(self, path: str, owner: tuple[str, str]) -> None:
        """Reserve ``path`` for one file of the run; a second file on the same path fails."""
        with self._lock:
            if self._claimed.setdefault(path, owner) != owner:
                raise UnsafePathError(f"destination path {path!r} is already used by another file")

    def _rehash(self, path: str) -> str | None:
        digest = hashlib.sha256()
        try:
            with self.dest.fs.open(self.dest.path(path), "rb") as f:
                while chunk := f.read(self.options.chunk_size):
                    digest.update(chunk)
        except OSError:
            return None
        return digest.hexdigest()

    def _remember(self, path: str, size: int, sha: str, remote: RemoteFile) -> None:
        self.manifest.record(Entry(path, size, sha, remote.dataset_id, remote.file_id))

    def _clean_partials(self, expected: set[str]) -> None:
        """Remove partial files a killed run left in the directories we listed."""
        for rel_dir in {p.rpartition("/")[0] for p in expected}:
            for partial in self.dest.partial_files(rel_dir):
                if self.dest.run_token not in partial:  # never another thread's live write
                    self.dest.remove(partial)

    def _delete_extraneous(self, dataset_id: str, expected: set[str]) -> list[FileResult]:
        out = []
        for entry in self.manifest.for_dataset(dataset_id):
            if entry.path in expected:
                continue
            try:
                self.dest.remove(entry.path)
                self.manifest.forget(entry.path)
                out.append(FileResult(dataset_id, entry.path, DELETED, file_id=entry.file_id))
            except Exception as exc:
                out.append(FileResult(dataset_id, entry.path, FAILED, file_id=entry.file_id,
                                      error=f"cannot delete: {_message(exc)}"))
        return out

    def _done(self, result: FileResult) -> FileResult:
        self.progress.advance()
        return result

    def _add(self, results: list[FileResult]) -> list[FileResult]:
        with self._lock:
            self.report.results.extend(results)
        return results


    def adopt(self, results: list[FileResult], listing_calls: int = 0) -> None:
        """Take in results another process's mirror produced for this run (a Dask task)."""
        self._add(results)
        self.dest.listing_calls += listing_calls
        self.progress.add_total(len(results))
        self.progress.advance(len(results))


class _LazyLinks:
    """Download links of one dataset, fetched on first need (never for an all-skipped dataset)."""

    def __init__(self, source: Source, dataset_id: str) -> None:
        self.source = source
        self.dataset_id = dataset_id
        self._links: dict[str, str] | None = None
        self._lock = threading.Lock()

    def get(self, file_id: str, refresh: bool = False) -> str:
        if refresh:
            return self.source.file_link(file_id)
        with self._lock:
            if self._links is None:
                self._links = self.source.download_links(self.dataset_id)
        url = self._links.get(file_id)
        return url if url else self.source.file_link(file_id)


def record_json(record: dict, files: list[RemoteFile]) -> bytes:
    """The dataset's ``record.json``: its record and metadata plus the file list, stable bytes."""
    doc = {"record": record,
           "files": [{"file_id": f.file_id, "relative_path": f.relative_path, "size": f.size,
                      "sha256": f.sha256} for f in sorted(files, key=lambda f: f.file_id)]}
    return (json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n").encode()


def _shown(remote: RemoteFile) -> str:
    return repr(remote.relative_path or remote.filename or remote.file_id)[:200]


def _message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
