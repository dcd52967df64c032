"""Prefect artifacts from any job's report: a live progress bar, the table, a summary.

Artifacts are a convenience: a failure to create or update one is logged, never fatal, so a
run's report is never lost over them.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from crucible.jobs import JobReport

log = logging.getLogger("crucible_prefect.artifacts")


class ProgressArtifact:
    """A progress artifact; call it with ``(done, total)`` from any thread."""

    def __init__(self, description: str) -> None:
        self._id: Any = None  # the artifact's UUID once created
        self._lock = threading.Lock()
        try:
            from prefect.artifacts import create_progress_artifact

            self._id = create_progress_artifact(0.0, description=description)
        except Exception as exc:
            log.warning("could not create the progress artifact: %s", exc)

    def __call__(self, done: int, total: int) -> None:
        if self._id is None:
            return
        from prefect.artifacts import update_progress_artifact

        percent = 100.0 * done / total if total else 100.0
        with self._lock:
            try:
                update_progress_artifact(self._id, round(min(percent, 100.0), 1))
            except Exception as exc:  # the job matters more than its progress bar
                log.warning("could not update the progress artifact: %s", exc)


def artifact_key(prefix: str, name: str) -> str:
    """A valid artifact key (lowercase letters, digits, dashes): ``<prefix>-<name>``."""
    chars = [c if c.isascii() and c.isalnum() else "-" for c in name.lower()]
    key = "-".join(filter(None, "".join(chars).split("-")))[:60] or "run"
    return f"{prefix}-{key}"


def publish_report(report: JobReport, key: str | None, description: str) -> None:
    """The report's table artifact (under ``key``) and its markdown summary."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    try:
        rows = report.table() or [{"status": "nothing selected"}]
        create_table_artifact(table=rows, key=key, description=description)
        create_markdown_artifact(markdown=report.markdown(),
                                 key=f"{key}-summary" if key else None,
                                 description=f"{description}: summary")
    except Exception as exc:  # never lose the report over its artifacts
        log.warning("could not publish the report artifacts: %s", exc)
