"""Which failures the task-level retry condition retries (no server needed)."""

from __future__ import annotations

import pickle

import pytest
import requests
from prefect.states import Completed, Failed

from crucible.errors import (ChecksumMismatchError, CrucibleConnectionError, TransferError,
                             error_for_status)
from crucible.resources.ingestions import IngestionFailed
from crucible_prefect import IngestionFailedError, create_dataset, get_dataset, request_processing
from crucible_prefect.retry import TASK_RETRIES, is_transient, retry_on_transient


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(status):
    assert is_transient(error_for_status("GET", "/datasets/x", status, "busy"))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501])
def test_client_errors_and_501_are_not(status):
    assert not is_transient(error_for_status("GET", "/datasets/x", status, "no"))


def test_connection_errors_are_retried_data_errors_are_not():
    assert is_transient(requests.ConnectionError("reset"))
    assert is_transient(requests.ReadTimeout("slow"))
    assert is_transient(CrucibleConnectionError("POST /datasets: no answer"))
    assert not is_transient(ChecksumMismatchError("f", "a" * 64, "b" * 64))
    assert not is_transient(ValueError("bad input"))
    assert not is_transient(FileNotFoundError("gone"))
    assert not is_transient(TimeoutError("ingestion request 7 still 'started' after 600s"))
    failed = IngestionFailedError({"id": 7, "status": "failed", "error_message": "bad header"})
    assert not is_transient(failed)
    again = pickle.loads(pickle.dumps(failed))  # Prefect keeps exceptions in failed states
    assert isinstance(again, IngestionFailed) and again.request["id"] == 7
    assert "bad header" in str(again)
    try:
        try:
            raise requests.ConnectionError("storage went away")
        except requests.ConnectionError as exc:
            raise TransferError("chunk upload failed") from exc
    except TransferError as wrapped:
        assert is_transient(wrapped)
    try:
        try:
            raise ValueError("bad chunk size")
        except ValueError as exc:
            raise TransferError("chunk upload failed") from exc
    except TransferError as wrapped:
        assert not is_transient(wrapped)


def test_retry_condition_reads_the_failed_state():
    busy = Failed(data=error_for_status("GET", "/datasets/x", 503, "busy"))
    missing = Failed(data=error_for_status("GET", "/datasets/x", 404, "not found"))
    assert retry_on_transient(None, None, busy) is True
    assert retry_on_transient(None, None, missing) is False
    assert retry_on_transient(None, None, Completed(data=1)) is False


def test_task_defaults_and_overrides():
    assert get_dataset.retries == TASK_RETRIES
    assert get_dataset.retry_condition_fn is retry_on_transient
    assert "crucible" in get_dataset.tags
    assert request_processing.retries == 0  # no id to deduplicate a lost response with
    quick = create_dataset.with_options(retries=5, retry_delay_seconds=1)
    assert quick.retries == 5 and quick.retry_condition_fn is retry_on_transient
    assert quick.tags == create_dataset.tags
