"""What an ingest run did, per file: the returned report object and the Prefect artifacts.

Statuses: ``ingested`` (uploaded/finished by this run), ``exists`` (already complete in Crucible,
nothing done), ``held`` (still being written; a later run picks it up), ``skipped`` (never
ingested by design, e.g. zero-byte files) and ``failed`` (the run fails because of it).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Literal

from pydantic import BaseModel, Field

Status = Literal["ingested", "exists", "held", "skipped", "failed"]


class FileRow(BaseModel):
    """One file's outcome (one row of the final table artifact)."""

    file: str
    dataset_id: str | None = None
    bytes: int = 0
    status: Status
    reason: str = ""


class IngestReport(BaseModel):
    """The flow's return value: small, JSON-able, enough to act on."""

    path: str
    run: str
    mode: str
    parent_dataset_id: str | None = None
    datasets: list[str] = Field(default_factory=list, description="Every dataset of this run.")
    created: list[str] = Field(default_factory=list, description="Datasets this run created.")
    files: list[FileRow] = Field(default_factory=list)
    post_processing: list[dict] = Field(default_factory=list)
    sample_links: dict | None = Field(default=None, description="Summary of the link-samples subflow.")
    errors: list[str] = Field(default_factory=list, description="Run-level problems.")

    def count(self, status: Status) -> int:
        return sum(1 for row in self.files if row.status == status)

    @property
    def failed(self) -> list[FileRow]:
        return [row for row in self.files if row.status == "failed"]

    @property
    def held(self) -> list[FileRow]:
        return [row for row in self.files if row.status == "held"]

    @property
    def ok(self) -> bool:
        """True when everything selected is in Crucible (nothing failed, nothing held back)."""
        return not self.errors and not self.failed and not self.held and not any(
            p.get("status") != "complete" for p in self.post_processing)

    def summary(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in ("ingested", "exists", "held", "skipped", "failed")
                 if self.count(s)]
        text = f"{self.run} ({self.mode}): " + (", ".join(parts) or "no files")
        text += f"; {len(self.datasets)} dataset(s), {len(self.created)} new"
        bad_pp = [p for p in self.post_processing if p.get("status") != "complete"]
        if bad_pp:
            text += f"; {len(bad_pp)} post-processing request(s) not complete"
        return text

    def markdown(self) -> str:
        lines = [f"## Ingest of `{self.run}`", "", self.summary(), ""]
        if self.parent_dataset_id:
            lines += [f"Session dataset: `{self.parent_dataset_id}`", ""]
        for err in self.errors:
            lines.append(f"- **error**: {err}")
        for row in self.files:
            if row.status in ("failed", "held"):
                lines.append(f"- **{row.status}** `{row.file}`: {row.reason}")
        return "\n".join(lines)


class IngestFailed(Exception):
    """Raised by a direct call of the flow when it did not finish; carries the report.

    (With ``return_state=True`` the failed state's result is this exception; use
    `report_from_state` to get the report either way.)
    """

    def __init__(self, report: IngestReport):
        self.report = report
        super().__init__(report.summary())

    def __reduce__(self):
        return (IngestFailed, (self.report,))


def report_from_state(state: Any) -> IngestReport:
    """The IngestReport of a finished flow run state, completed or failed."""
    result = state.result(raise_on_failure=False)
    if isinstance(result, IngestFailed):
        return result.report
    if isinstance(result, IngestReport):
        return result
    if isinstance(result, BaseException):
        raise result
    raise TypeError(f"not an ingest result: {type(result).__name__}")


class Progress:
    """A progress artifact that follows files as they finish (at most one update every
    ``min_interval_s``, plus the last one; never fails the run)."""

    def __init__(self, total_files: int, description: str, *, min_interval_s: float = 2.0):
        self.total = max(total_files, 1)
        self.done = 0
        self._last = 0.0
        self._min_interval = min_interval_s
        self._lock = threading.Lock()
        self._id = None
        try:
            from prefect.artifacts import create_progress_artifact

            self._id = create_progress_artifact(0.0, description=description)
        except Exception:
            self._id = None

    def advance(self, files: int = 1) -> None:
        with self._lock:
            self.done += files
            pct = 100.0 * self.done / self.total
            now = time.monotonic()
            if self._id is None or (now - self._last < self._min_interval and self.done < self.total):
                return
            self._last = now
        try:
            from prefect.artifacts import update_progress_artifact

            update_progress_artifact(self._id, min(pct, 100.0))
        except Exception:
            pass


def publish(report: IngestReport, key: str | None = None) -> None:
    """The final table and markdown artifacts (file, dataset id, bytes, status, reason)."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    table = [row.model_dump() for row in report.files] or [
        {"file": "", "dataset_id": None, "bytes": 0, "status": "skipped", "reason": "no files"}]
    create_table_artifact(table=table, key=key, description=report.summary())
    create_markdown_artifact(markdown=report.markdown(), description="ingest summary")


def artifact_key(run: str) -> str:
    """A valid artifact key (lowercase letters, digits, dashes) for a run name."""
    chars = [c if c.isascii() and c.isalnum() else "-" for c in run.lower()]
    key = "-".join(filter(None, "".join(chars).split("-")))[:60] or "run"
    return f"ingest-{key}"
