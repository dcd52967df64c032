"""Runners execute a job's units of work; :func:`run_job` plans, runs and merges any job.

A runner calls ``work(client, unit)`` for each unit and yields ``(unit, result)`` as units
finish, in whatever order. A unit whose work raised yields a :class:`UnitFailure` instead of a
result, so the job can report it and carry on with the rest.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol, Sequence, TypeVar

if TYPE_CHECKING:
    from crucible.client import CrucibleClient

U = TypeVar("U")
R = TypeVar("R")

Work = Callable[["CrucibleClient", Any], Any]


@dataclass(frozen=True)
class UnitFailure:
    """The work of one unit raised instead of returning a result."""

    error: BaseException

    @property
    def message(self) -> str:
        return f"{type(self.error).__name__}: {self.error}"


class Runner(Protocol):
    """Executes units of work and yields each unit with its result (or :class:`UnitFailure`)."""

    def map(self, work: Work, units: Sequence[Any],
            name: Callable[[Any], str] | None = None) -> Iterator[tuple[Any, Any]]:
        """Run ``work(client, unit)`` for every unit; ``name`` labels a unit (task run names)."""
        ...


class ThreadRunner:
    """Runs units on a thread pool with one client, at most ``max_workers`` at a time."""

    def __init__(self, client: "CrucibleClient", max_workers: int = 8) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.client = client
        self.max_workers = max_workers

    def map(self, work: Work, units: Sequence[Any],
            name: Callable[[Any], str] | None = None) -> Iterator[tuple[Any, Any]]:
        if not units:
            return
        if self.max_workers == 1 or len(units) == 1:
            for unit in units:
                yield unit, _call(work, self.client, unit)
            return
        with ThreadPoolExecutor(self.max_workers, thread_name_prefix="crucible-unit") as pool:
            pending: dict[Future, Any] = {}
            for unit in units:
                pending[pool.submit(_call, work, self.client, unit)] = unit
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()


def _call(work: Work, client: Any, unit: Any) -> Any:
    try:
        return work(client, unit)
    except Exception as exc:  # reported per unit; the other units go on
        return UnitFailure(exc)


class Job(Protocol[U, R]):
    """The shape every engine has (see the ``crucible.jobs`` docstring)."""

    def plan(self) -> Sequence[U]:
        """The units of work (picklable)."""
        ...

    def run_unit(self, client: "CrucibleClient", unit: U) -> R:
        """Do one unit; must be picklable as a bound method (task runners may ship it)."""
        ...

    def unit_name(self, unit: U) -> str:
        """A short label for a unit (task run names, logs)."""
        ...

    def add_result(self, unit: U, result: "R | UnitFailure") -> None:
        """Take one finished unit's result in (called in the caller's thread, as units finish)."""
        ...

    def finish(self) -> Any:
        """The job's report, once every unit's result was added."""
        ...


def run_job(job: Job[Any, Any], runner: Runner) -> Any:
    """Plan the job, run its units on ``runner`` and return the job's report.

    A job that holds resources between ``plan`` and ``finish`` (the mirror's transfer pool and
    manifest) has a ``close()`` that is called if anything in between raises.
    """
    try:
        units = job.plan()
        for unit, result in runner.map(job.run_unit, units, job.unit_name):
            job.add_result(unit, result)
        return job.finish()
    except BaseException:
        close = getattr(job, "close", None)
        if close is not None:
            close()
        raise
