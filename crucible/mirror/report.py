"""Per-file outcomes of a mirror run and their totals (the mirror's :class:`JobReport`)."""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

from pydantic import Field

from crucible.jobs import JobFailed, JobReport, Row

COPIED, SKIPPED, VERIFIED, DELETED, FAILED = "copied", "skipped", "verified", "deleted", "failed"
TABLE_ROW_LIMIT = 2000  # a table artifact with more rows is unreadable; failures come first


class FileResult(Row):
    """What happened to one destination path (``reason``: why it failed)."""

    dataset_id: str
    path: str
    bytes: int = 0
    file_id: str | None = None

    def __init__(self, dataset_id: str, path: str, status: str, bytes: int = 0,
                 file_id: str | None = None, error: str | None = None, **extra: Any) -> None:
        fields = dict(dataset_id=dataset_id, path=path, status=status, bytes=bytes,
                      file_id=file_id, reason=error or extra.pop("reason", "") or "", **extra)
        super().__init__(**fields)

    @property
    def error(self) -> str | None:
        """Why the file failed (None when it did not)."""
        return self.reason or None

    def to_json(self) -> dict:
        return {"dataset_id": self.dataset_id, "path": self.path, "status": self.status,
                "bytes": self.bytes, "file_id": self.file_id, "error": self.error}


class MirrorReport(JobReport):
    """All results of one run plus the destination it wrote to."""

    ITEMS: ClassVar[str] = "files"
    STATUS_ORDER: ClassVar[tuple[str, ...]] = (COPIED, SKIPPED, VERIFIED, DELETED, FAILED)
    UNCHANGED_STATUSES: ClassVar[tuple[str, ...]] = (SKIPPED,)

    destination: str
    results: list[FileResult] = Field(default_factory=list)
    listing_calls: int = 0
    seconds: float = 0.0  # the mirror's own work, without the orchestration around it

    def all_rows(self) -> Sequence[Row]:
        return self.results

    def row_label(self, row: Row) -> str:
        return f"{getattr(row, 'dataset_id', '')}:{getattr(row, 'path', '')}"

    @property
    def bytes_copied(self) -> int:
        return sum(r.bytes for r in self.results if r.status == COPIED)

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.status == FAILED]

    def summary(self) -> dict:
        return {"destination": self.destination, "counts": self.counts,
                "bytes_copied": self.bytes_copied, "listing_calls": self.listing_calls,
                "seconds": round(self.seconds, 3),
                "failed": [r.to_json() for r in self.failed]}

    def summary_text(self) -> str:
        return (f"mirror to {self.destination}: {super().summary_text()}; "
                f"{self.bytes_copied:,} bytes copied")

    def table(self) -> list[dict]:
        ordered = sorted(self.results, key=lambda r: (r.status not in self.PROBLEM_STATUSES,
                                                      r.dataset_id, r.path))
        return [{"dataset": r.dataset_id, "path": r.path, "status": r.status, "bytes": r.bytes,
                 "error": r.error or ""} for r in ordered[:TABLE_ROW_LIMIT]]

    def table_rows(self) -> list[dict]:
        return self.table()

    def markdown(self) -> str:
        counts = self.counts
        lines = [f"# Mirror to `{self.destination}`", "",
                 "| status | files |", "|---|---|"]
        lines += [f"| {k} | {counts.get(k, 0)} |" for k in self.STATUS_ORDER]
        lines += ["", f"Bytes copied: {self.bytes_copied:,}. "
                      f"Destination listings: {self.listing_calls}."]
        if len(self.results) > TABLE_ROW_LIMIT:
            lines.append(f"The table shows the first {TABLE_ROW_LIMIT} of {len(self.results)} "
                         "rows, failures first.")
        lines += [f"- {line}" for line in self.problems(limit=20)]
        return "\n".join(lines)


class MirrorFailed(JobFailed):
    """Some files could not be mirrored (the rest was mirrored); ``report`` lists them."""

    @property
    def summary(self) -> dict:
        return self.report.summary()  # type: ignore[attr-defined]
