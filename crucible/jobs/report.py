"""One report model for every job: rows with a status and a reason, counts, a summary, ``ok``."""

from __future__ import annotations

from collections import Counter
from typing import ClassVar, Sequence

from pydantic import BaseModel, Field


class Row(BaseModel):
    """One item's outcome (a file, a dataset → sample link); jobs add their own fields."""

    status: str
    reason: str = ""


class JobReport(BaseModel):
    """What a job did. Subclasses name their rows' field and the statuses that mean trouble.

    ``ok`` is false when a row has a status in ``BAD_STATUSES`` or the job recorded run-level
    ``errors`` (it could not start, or a step outside any row failed).
    """

    #: Row statuses that make the job fail; also listed first in summaries.
    BAD_STATUSES: ClassVar[tuple[str, ...]] = ("failed",)
    #: Row statuses shown as problems (tables list them first, the command line's summary lists
    #: them), whether or not they fail the run: the bad ones, and e.g. a dataset left unlinked.
    PROBLEM_STATUSES: ClassVar[tuple[str, ...]] = ("failed",)
    #: The order statuses are shown in the summary (others follow alphabetically).
    STATUS_ORDER: ClassVar[tuple[str, ...]] = ()
    #: What the job's rows are, for the summary text ("files", "datasets").
    ITEMS: ClassVar[str] = "items"
    #: Row statuses that mean the job left the item as it was (already mirrored, ingested or
    #: linked): a run with only these changed nothing.
    UNCHANGED_STATUSES: ClassVar[tuple[str, ...]] = ()

    errors: list[str] = Field(default_factory=list, description="Run-level problems.")

    def all_rows(self) -> Sequence[Row]:
        """The job's rows (each subclass keeps them under its own field name)."""
        raise NotImplementedError

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(row.status for row in self.all_rows()))

    def count(self, status: str) -> int:
        return sum(1 for row in self.all_rows() if row.status == status)

    def rows_with(self, *statuses: str) -> list[Row]:
        return [row for row in self.all_rows() if row.status in statuses]

    @property
    def bad_rows(self) -> list[Row]:
        return self.rows_with(*self.BAD_STATUSES)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.bad_rows

    @property
    def changed_nothing(self) -> bool:
        """True for a run that went well and left every item as it was (an unchanged re-run)."""
        return self.ok and all(row.status in self.UNCHANGED_STATUSES for row in self.all_rows())

    def failure_name(self) -> str:
        """The name of a failed run's state (``Failed``; ingest says ``Incomplete`` when files
        were only held back)."""
        return "Failed"

    def status_counts_text(self) -> str:
        counts = self.counts
        order = list(self.STATUS_ORDER) + sorted(set(counts) - set(self.STATUS_ORDER))
        parts = [f"{counts[s]} {s}" for s in order if counts.get(s)]
        return ", ".join(parts) or f"no {self.ITEMS}"

    def summary_text(self) -> str:
        """One line: counts per status, then the first run-level error if any."""
        text = self.status_counts_text()
        if self.errors:
            text += f"; error: {self.errors[0]}"
            if len(self.errors) > 1:
                text += f" (+{len(self.errors) - 1} more)"
        return text

    def problems(self, limit: int = 5) -> list[str]:
        """Human lines for what went wrong: run-level errors, then bad rows."""
        lines = list(self.errors)
        for row in self.bad_rows[:limit]:
            lines.append(f"{row.status} {self.row_label(row)}: {row.reason}")
        more = len(self.bad_rows) - limit
        if more > 0:
            lines.append(f"... and {more} more")
        return lines

    def row_label(self, row: Row) -> str:
        """How a row is named in messages (subclasses name the file or dataset)."""
        return ""

    def table(self) -> list[dict]:
        """The rows as a table (one dict per row), problems first, else in the job's order."""
        rows = sorted(self.all_rows(), key=lambda r: r.status not in self.PROBLEM_STATUSES)
        return [self.table_row(row) for row in rows]

    def table_row(self, row: Row) -> dict:
        """One row of :meth:`table` (subclasses choose and name the columns)."""
        return row.model_dump(mode="json")

    def markdown(self) -> str:
        """A short summary for people: counts, then what went wrong."""
        lines = [self.summary_text(), ""]
        lines += [f"- {line}" for line in self.problems(limit=20)]
        return "\n".join(lines)
