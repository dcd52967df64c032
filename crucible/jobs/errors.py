"""The one failure type of every job: it carries the job's report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crucible.errors import CrucibleError

if TYPE_CHECKING:
    from .report import JobReport


class JobFailed(CrucibleError):
    """A job ended with failures; ``report`` says what worked and what did not.

    Each job has its own subclass (``IngestFailed``, ``MirrorFailed``, ``LinkFailed``) so callers
    can tell them apart; all pickle with their report (Prefect stores them as the run's result).
    """

    def __init__(self, report: "JobReport") -> None:
        self.report = report
        super().__init__(failure_message(report))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.report,))


def failure_message(report: "JobReport", limit: int = 5) -> str:
    """What failed, in one line: the summary, then the first problems."""
    problems = report.problems(limit=limit)
    return report.summary_text() + (": " + "; ".join(problems) if problems else "")
