"""What the three jobs (ingest, mirror, link samples) share: units of work, runners, reports.

Every job is an engine with the same shape:

1. ``plan()`` — decide the units of work (picklable: a task runner may ship them elsewhere);
2. ``run_unit(client, unit)`` — do one unit with a client, return a picklable result;
3. ``add_result(unit, result)`` as units finish, then ``finish()`` — the job's report.

A :class:`Runner` executes units: :class:`ThreadRunner` when used plainly (scripts, the
``crucible`` command); the Prefect flows submit the same units as tasks (thread pool or Dask).
:func:`run_job` ties the three steps together for any runner.
"""

from .errors import JobFailed
from .progress import Progress, ProgressCallback
from .report import JobReport, Row
from .runner import Runner, ThreadRunner, UnitFailure, run_job

__all__ = ["JobFailed", "JobReport", "Progress", "ProgressCallback", "Row", "Runner",
           "ThreadRunner", "UnitFailure", "run_job"]
