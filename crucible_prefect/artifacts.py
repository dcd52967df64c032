"""Prefect artifacts from any job's report: a live progress bar, the table, a summary.

Artifacts are a convenience: a failure to create or update one is logged, never fatal, so a
run's report is never lost over them.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from typing import Any

from crucible.jobs import JobReport

log = logging.getLogger("crucible_prefect.artifacts")


class ProgressArtifact:
    """A progress artifact; call it with ``(done, total)`` from any thread.

    Created on the first call that is not already the last: ``crucible.jobs.Progress``
    reports first after its interval, so a run shorter than that (an unchanged re-run, say)
    makes no API call for a bar that would only ever show 100 %; its report artifacts say how
    it ended.
    """

    def __init__(self, description: str) -> None:
        self.description = description
        # created later from whatever thread reports first (a task's, say): in the context of
        # where it was made, so it belongs to the flow run and not to a task run
        self._context = contextvars.copy_context()
        self._id: Any = None  # the artifact's UUID once created
        self._failed = False  # creating it failed once: no more tries, no more warnings
        self._lock = threading.Lock()

    def __call__(self, done: int, total: int) -> None:
        percent = round(min(100.0 * done / total if total else 100.0, 100.0), 1)
        with self._lock:
            if self._failed:
                return
            try:
                if self._id is None:
                    if done >= total:  # finished before its first report
                        return
                    from prefect.artifacts import create_progress_artifact

                    self._id = self._context.run(create_progress_artifact, percent,
                                                 description=self.description)
                else:
                    from prefect.artifacts import update_progress_artifact

                    update_progress_artifact(self._id, percent)
            except Exception as exc:  # the job matters more than its progress bar
                self._failed = self._id is None
                log.warning("could not %s the progress artifact: %s",
                            "create" if self._id is None else "update", exc)


def artifact_key(prefix: str, name: str) -> str:
    """A valid artifact key (lowercase letters, digits, dashes): ``<prefix>-<name>``."""
    chars = [c if c.isascii() and c.isalnum() else "-" for c in name.lower()]
    key = "-".join(filter(None, "".join(chars).split("-")))[:60] or "run"
    return f"{prefix}-{key}"


def publish_report(report: JobReport, key: str | None, description: str) -> None:
    """The report's table artifact (under ``key``) and its markdown summary.

    A run that changed nothing (``report.changed_nothing``: every item already mirrored,
    ingested or linked) publishes neither: its flow run's state message and log carry the
    summary, the artifacts under ``key`` keep showing the last run that did something, and an
    unchanged re-run costs two Prefect API calls less."""
    if report.changed_nothing:
        return
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    try:
        create_table_artifact(table=report.table() or [{"status": "nothing selected"}], key=key,
                              description=description)
        create_markdown_artifact(markdown=report.markdown(),
                                 key=f"{key}-summary" if key else None,
                                 description=f"{description}: summary")
    except Exception as exc:  # never lose the report over its artifacts
        log.warning("could not publish the report artifacts: %s", exc)
