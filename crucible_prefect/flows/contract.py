"""The one contract every ready-made flow ends in, and what the flows share around it.

A flow returns its job's report. When the report is not ``ok`` the run ends **Failed**: the
state's message says what failed and its result is the job's failure exception
(``IngestFailed``, ``MirrorFailed``, ``LinkFailed``, all ``crucible.jobs.JobFailed``), which
carries the report — ``report_of(state)`` returns it either way.
"""

from __future__ import annotations

from typing import Any, cast

from prefect.states import Completed, Failed

from crucible.jobs import JobFailed, JobReport
from crucible.jobs.errors import failure_message
from crucible.secrets import secret_paths, url_has_password
from crucible_prefect.artifacts import publish_report
from crucible_prefect.tasks.common import run_logger

#: At most this many problems are logged one by one (the table artifact has them all).
LOGGED_PROBLEMS = 20


def finish_flow(report: JobReport, failure: type[JobFailed], key: str | None,
                what: str) -> Any:
    """Publish the report's artifacts, log it, and return the run's final state."""
    publish_report(report, key, f"{what}: {report.summary_text()}")
    logger = run_logger()
    for line in report.problems(limit=LOGGED_PROBLEMS):
        logger.warning(line)
    logger.info(report.summary_text())
    if report.ok:
        return Completed(message=report.summary_text(), data=report)
    return Failed(name=report.failure_name(), message=failure_message(report),
                  data=failure(report))


def report_of(state: Any) -> JobReport:
    """The report of a finished run of any ready-made flow, completed or failed."""
    result = state.result(raise_on_failure=False)
    if isinstance(result, JobFailed):
        return result.report
    if isinstance(result, JobReport):
        return result
    if isinstance(result, BaseException):
        raise result
    raise TypeError(f"not a job report: {type(result).__name__}")


def check_no_secrets(url: str | None, storage_options: dict[str, Any] | None,
                     what: str = "destination") -> None:
    """Refuse credentials in flow parameters: Prefect stores them in clear and shows them.

    Secret fsspec options (crucible/secrets.py names them, at any depth) belong in a Prefect
    Secret block named by ``storage_secret``, merged in at run time.
    """
    found = secret_paths(storage_options)
    if found:
        raise ValueError(
            f"storage_options hold secrets ({', '.join(repr(p) for p in found)}); flow parameters "
            "are stored in clear and shown in the Prefect UI. Put them in a Prefect Secret block "
            "(a JSON object of fsspec options) and pass its name as storage_secret")
    if url_has_password(url):
        raise ValueError(f"the {what} URL holds a password; flow parameters are shown in the "
                         "Prefect UI. Leave it out of the URL and put it in a Prefect Secret block "
                         "named by storage_secret")


def load_storage_secret(options: dict | None, secret_name: str | None) -> dict:
    """Plain fsspec options plus the secret ones from a Prefect Secret block (never logged)."""
    merged = dict(options or {})
    if not secret_name:
        return merged
    from prefect.blocks.system import Secret

    try:
        secret = cast(Any, Secret.load(secret_name)).get()
    except ValueError as exc:
        raise ValueError(f"storage_secret: cannot load Secret block {secret_name!r}: {exc}") from None
    if not isinstance(secret, dict):
        raise ValueError(f"storage_secret: Secret block {secret_name!r} must hold a JSON object")
    merged.update(secret)
    return merged
