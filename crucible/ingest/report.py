"""What an ingest run did, per file: the report the engine returns (and the flow publishes).

Statuses: ``ingested`` (uploaded/finished by this run), ``exists`` (already complete in Crucible,
nothing done), ``held`` (still being written; a later run picks it up), ``skipped`` (never
ingested by design, e.g. zero-byte files) and ``failed`` (the run fails because of it).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Sequence, cast

from pydantic import Field

from crucible.jobs import JobFailed, JobReport, Row

Status = Literal["ingested", "exists", "held", "skipped", "failed"]


class FileRow(Row):
    """One file's outcome (one row of the final table artifact)."""

    file: str
    dataset_id: str | None = None
    bytes: int = 0
    status: Status
    reason: str = ""


class IngestReport(JobReport):
    """The ingest run's result: small, JSON-able, enough to act on."""

    BAD_STATUSES: ClassVar[tuple[str, ...]] = ("failed", "held")
    PROBLEM_STATUSES: ClassVar[tuple[str, ...]] = BAD_STATUSES
    STATUS_ORDER: ClassVar[tuple[str, ...]] = ("ingested", "exists", "held", "skipped", "failed")
    ITEMS: ClassVar[str] = "files"
    UNCHANGED_STATUSES: ClassVar[tuple[str, ...]] = ("exists", "skipped")

    path: str
    run: str
    mode: str
    parent_dataset_id: str | None = None
    datasets: list[str] = Field(default_factory=list, description="Every dataset of this run.")
    created: list[str] = Field(default_factory=list, description="Datasets this run created.")
    files: list[FileRow] = Field(default_factory=list)
    post_processing: list[dict] = Field(default_factory=list)
    sample_links: dict | None = Field(default=None, description="Summary of the sample linking.")

    def all_rows(self) -> Sequence[Row]:
        return self.files

    def row_label(self, row: Row) -> str:
        return getattr(row, "file", "")

    @property
    def changed_nothing(self) -> bool:
        """Every file already in Crucible, no dataset made, and no sample link made either."""
        link_counts = (self.sample_links or {}).get("counts") or {}
        return (super().changed_nothing and not self.created
                and all(status == "already linked" for status in link_counts))

    @property
    def failed(self) -> list[FileRow]:
        return [row for row in self.files if row.status == "failed"]

    @property
    def held(self) -> list[FileRow]:
        return [row for row in self.files if row.status == "held"]

    @property
    def ok(self) -> bool:
        """True when everything selected is in Crucible (nothing failed, nothing held back)."""
        return super().ok and not any(
            p.get("status") != "complete" for p in self.post_processing)

    def failure_name(self) -> str:
        bad_pp = any(p.get("status") != "complete" for p in self.post_processing)
        return "Failed" if (self.errors or self.failed or bad_pp) else "Incomplete"

    def summary(self) -> str:
        text = f"{self.run} ({self.mode}): " + self.status_counts_text()
        text += f"; {len(self.datasets)} dataset(s), {len(self.created)} new"
        bad_pp = [p for p in self.post_processing if p.get("status") != "complete"]
        if bad_pp:
            text += f"; {len(bad_pp)} post-processing request(s) not complete"
        if self.errors:
            text += f"; error: {self.errors[0]}"
        return text

    def summary_text(self) -> str:
        return self.summary()

    def markdown(self) -> str:
        lines = [f"## Ingest of `{self.run}`", "", self.summary(), ""]
        if self.parent_dataset_id:
            lines += [f"Session dataset: `{self.parent_dataset_id}`", ""]
        for err in self.errors:
            lines.append(f"- **error**: {err}")
        for row in self.files:
            if row.status in self.PROBLEM_STATUSES:
                lines.append(f"- **{row.status}** `{row.file}`: {row.reason}")
        return "\n".join(lines)

    def table(self) -> list[dict]:
        """Rows for a table (file, dataset id, bytes, status, reason); one row when no files."""
        return super().table() or [{"file": "", "dataset_id": None, "bytes": 0,
                                    "status": "skipped", "reason": "no files"}]

    def table_row(self, row: Row) -> dict:
        r = cast(FileRow, row)
        return {"file": r.file, "dataset_id": r.dataset_id, "bytes": r.bytes,
                "status": r.status, "reason": r.reason}


class IngestFailed(JobFailed):
    """The ingest run did not finish everything; ``report`` says what did and what did not."""


def report_from_state(state: Any) -> IngestReport:
    """The IngestReport of a finished flow run state, completed or failed."""
    result = state.result(raise_on_failure=False)
    if isinstance(result, IngestFailed):
        return result.report  # type: ignore[return-value]
    if isinstance(result, IngestReport):
        return result
    if isinstance(result, BaseException):
        raise result
    raise TypeError(f"not an ingest result: {type(result).__name__}")
