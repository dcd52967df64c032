"""Prefect artifacts of a mirror run: a live progress bar, the file table, a summary."""

from __future__ import annotations

import logging
import threading

from .report import MirrorReport

log = logging.getLogger("flows.mirror")


class ProgressArtifact:
    """A progress artifact updated from any thread; failures to update are only logged."""

    def __init__(self, description: str) -> None:
        from prefect.artifacts import create_progress_artifact

        self._id = create_progress_artifact(0.0, description=description)
        self._lock = threading.Lock()

    def __call__(self, percent: float) -> None:
        from prefect.artifacts import update_progress_artifact

        with self._lock:
            try:
                update_progress_artifact(self._id, round(percent, 1))
            except Exception as exc:  # the mirror matters more than its progress bar
                log.warning("could not update the progress artifact: %s", exc)


def publish_report(report: MirrorReport, key: str | None = None) -> None:
    """A table artifact (one row per file, failures first) and a markdown summary."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    rows = report.table_rows() or [{"dataset": "", "path": "", "status": "nothing selected",
                                    "bytes": 0, "error": ""}]
    create_table_artifact(table=rows, key=key, description=f"Mirror to {report.destination}")
    create_markdown_artifact(markdown=report.markdown(), key=f"{key}-summary" if key else None,
                             description="Mirror summary")
