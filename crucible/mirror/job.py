"""The mirror engine's job: datasets are the units, the run's :class:`Mirror` does the copying.

Shape (``crucible.jobs``): :meth:`MirrorJob.plan` resolves the query to dataset ids and opens the
run's mirror (its manifest, transfer pool, report and path claims); :meth:`MirrorJob.run_unit`
mirrors one dataset; :meth:`MirrorJob.finish` compacts the manifest and returns the report.

Where a unit runs is the runner's business. In this process (thread pool) it works on the run's
own mirror. A task runner that ships the job to another process (Dask) unpickles only its plain
settings — never the run's mirror or client — so there the unit opens a helper mirror on the same
destination and run token, journaling into the run's manifest generation, and returns its
results; :meth:`add_result` adopts them and compaction folds their journal in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crucible.jobs import ProgressCallback, UnitFailure

from .destination import Destination
from .engine import Mirror, MirrorOptions
from .report import FAILED, FileResult, MirrorReport
from .selection import CrucibleSource, Query


@dataclass
class UnitResult:
    """One dataset's results; ``foreign`` when a helper mirror in another process made them."""

    results: list[FileResult] = field(default_factory=list)
    foreign: bool = False
    listing_calls: int = 0


class MirrorJob:
    """Mirror the datasets ``query`` selects to ``dest`` (see the module docstring)."""

    TASK_NAME = "mirror-dataset"

    def __init__(self, query: Query, dest: Destination, client: Any,
                 options: MirrorOptions | None = None, *,
                 on_progress: ProgressCallback | None = None) -> None:
        self.query = query
        self.options = options or MirrorOptions()
        self._spec = (dest.fs, dest.root, dest.strategy, dest.run_token)
        self.mirror: Mirror | None = Mirror(CrucibleSource(client), dest, self.options,
                                            on_progress=on_progress)
        self._opened = False

    def __getstate__(self) -> dict:  # plain settings only: no mirror, no client
        return {"query": self.query, "options": self.options, "_spec": self._spec,
                "mirror": None, "_opened": False}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    @property
    def report(self) -> MirrorReport:
        assert self.mirror is not None
        return self.mirror.report

    def plan(self) -> list[str]:
        assert self.mirror is not None
        ids = self.mirror.source.select(self.query)
        self.mirror.__enter__()
        self._opened = True
        return ids

    def run_unit(self, client: Any, dataset_id: str) -> UnitResult:
        if self.mirror is not None:  # the run's own mirror, in this process
            return UnitResult(self.mirror.dataset(dataset_id))
        fs, root, strategy, token = self._spec
        dest = Destination(fs=fs, root=root, strategy=strategy, run_token=token)
        helper = Mirror(CrucibleSource(client), dest, self.options)
        helper.owns_run = False
        with helper:
            results = helper.dataset(dataset_id)
        return UnitResult(results, foreign=True, listing_calls=dest.listing_calls)

    def unit_name(self, dataset_id: str) -> str:
        return f"mirror-dataset-{dataset_id}"

    def add_result(self, dataset_id: str, result: Any) -> None:
        assert self.mirror is not None
        if isinstance(result, UnitFailure):  # a crash of the unit itself, not a failed file
            self.mirror.adopt([FileResult(dataset_id, "", FAILED,
                                          error=f"task failed: {result.message}")])
        elif result.foreign:
            self.mirror.absorb_foreign = True
            self.mirror.adopt(result.results, result.listing_calls)

    def finish(self) -> MirrorReport:
        self.close()
        return self.report

    def close(self) -> None:
        if self.mirror is not None and self._opened:
            self._opened = False
            self.mirror.close()
