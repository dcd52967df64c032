"""Task-level retries: only for failures that a later attempt can fix.

The client's transport already retries each HTTP request a few times within seconds
(`CrucibleCredentials.max_attempts`). Task retries are the second, slower layer for outages that
outlast those: 5xx (except 501), 429 and lost connections. A 4xx other than 429 means the request
itself is wrong (bad key, unknown id, invalid input) and fails the task at once.
"""

from __future__ import annotations

from typing import Any

from prefect.tasks import exponential_backoff

from crucible.transient import is_transient

__all__ = [
    "TASK_RETRIES",
    "TASK_RETRY_DELAY_SECONDS",
    "TASK_RETRY_JITTER_FACTOR",
    "is_transient",
    "retry_on_transient",
]

#: Task retries after the first attempt (so up to 3 task attempts).
TASK_RETRIES = 2
#: Delays before task retries 1 and 2: 10 s, then 20 s (± jitter).
TASK_RETRY_DELAY_SECONDS = exponential_backoff(backoff_factor=10)(TASK_RETRIES)
#: Spread retries of many tasks apart so they do not hit a recovering server together.
TASK_RETRY_JITTER_FACTOR = 0.5

def retry_on_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry the task only if it failed on a transient error."""
    try:
        state.result()
    except BaseException as exc:  # noqa: BLE001 - we classify, never swallow
        return is_transient(exc)
    return False
