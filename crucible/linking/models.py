"""Inputs and results of a linking run: the dataset query, the plan and the report rows."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal, Sequence, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crucible.jobs.report import JobReport, Row


class DatasetQuery(BaseModel):
    """Which datasets to link when no ids are given; every given criterion must hold.

    Example: ``{"project_id": "MFP123", "instrument_name": "xrd-01",
    "created_since": "2026-11-29T00:00:00Z"}``
    """

    model_config = ConfigDict(extra="forbid")

    project_id: str | None = Field(default=None, description="Datasets of this project.")
    instrument_name: str | None = Field(default=None, description="Datasets of this instrument.")
    session_dataset_id: str | None = Field(
        default=None, description="Children of this session (parent) dataset.")
    created_since: datetime | None = Field(
        default=None, description="Datasets created at or after this time (UTC if no zone).")

    @model_validator(mode="after")
    def _not_everything(self) -> "DatasetQuery":
        if not (self.project_id or self.instrument_name or self.session_dataset_id):
            raise ValueError(
                "a dataset query needs project_id, instrument_name or session_dataset_id; "
                "refusing to link every readable dataset")
        return self


class PlannedSample(BaseModel):
    """A sample a dataset should be linked to; ``sample_id`` is None until it is created."""

    sample_id: str | None = None
    sample_name: str | None = None
    project_id: str | None = None
    create: bool = False
    already_linked: bool = False


class DatasetPlan(BaseModel):
    """What the rules decided for one dataset: samples to link, or why none."""

    dataset_id: str
    dataset_name: str | None = None
    project_id: str | None = None
    rule: str | None = Field(default=None, description="Deciding rule, e.g. '2:regex'.")
    samples: list[PlannedSample] = Field(default_factory=list)
    reason: str | None = Field(default=None, description="Why the dataset stays unlinked.")
    failed: bool = Field(default=False, description="Reading from Crucible failed (not a rule).")
    candidates: list[str] = Field(default_factory=list,
                                  description="Ambiguous candidates ('name (id)').")

    @property
    def linkable(self) -> bool:
        """True when the plan links at least one sample."""
        return self.reason is None and bool(self.samples)


LinkStatus = Literal[
    "linked", "created and linked", "already linked", "would link", "would create and link",
    "unlinked", "failed",
]


class LinkRow(Row):
    """One row of the report table: dataset → sample, with the rule used or why unlinked."""

    dataset_id: str
    dataset_name: str | None = None
    sample_id: str | None = None
    sample_name: str | None = None
    rule: str | None = None
    status: LinkStatus
    reason: str | None = None  # type: ignore[assignment]


class LinkReport(JobReport):
    """The result of a linking run (JSON-able via ``model_dump(mode="json")``).

    Not ``ok`` when a link or a sample creation failed, or (with ``require_link``) when a
    dataset stayed unlinked.
    """

    ITEMS: ClassVar[str] = "datasets"
    UNCHANGED_STATUSES: ClassVar[tuple[str, ...]] = ("already linked",)
    PROBLEM_STATUSES: ClassVar[tuple[str, ...]] = ("failed", "unlinked")
    STATUS_ORDER: ClassVar[tuple[str, ...]] = (
        "linked", "created and linked", "already linked", "would link", "would create and link",
        "unlinked", "failed")

    dry_run: bool = False
    require_link: bool = False
    rows: list[LinkRow] = Field(default_factory=list)

    def all_rows(self) -> Sequence[Row]:
        return self.rows

    @property
    def bad_rows(self) -> list[Row]:
        bad = ("failed", "unlinked") if self.require_link else ("failed",)
        return self.rows_with(*bad)

    def row_label(self, row: Row) -> str:
        return getattr(row, "dataset_id", "")

    def table_row(self, row: Row) -> dict:
        """dataset → sample, rule, status, reason."""
        r = cast(LinkRow, row)
        return {"dataset": r.dataset_id, "dataset name": r.dataset_name or "",
                "sample": r.sample_id or "", "sample name": r.sample_name or "",
                "rule": r.rule or "", "status": r.status, "reason": r.reason or ""}

    def datasets_with(self, *statuses: str) -> list[str]:
        """Ids of datasets having a row with one of ``statuses``."""
        return list(dict.fromkeys(r.dataset_id for r in self.rows if r.status in statuses))

    @property
    def unlinked(self) -> list[str]:
        """Datasets the rules could not link."""
        return self.datasets_with("unlinked")

    @property
    def failed(self) -> list[str]:
        """Datasets whose planned links or sample creation failed on the server."""
        return self.datasets_with("failed")

    @property
    def created_samples(self) -> list[str]:
        """Ids of samples created by this run."""
        return list(dict.fromkeys(r.sample_id for r in self.rows
                                  if r.status == "created and linked" and r.sample_id))

    def summary(self) -> dict:
        """Small JSON-able summary: counts, created samples, unlinked and failed datasets."""
        return {"dry_run": self.dry_run, "counts": self.counts,
                "created_samples": self.created_samples, "unlinked": self.unlinked,
                "failed": self.failed}
