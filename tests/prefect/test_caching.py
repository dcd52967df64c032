"""Cache keys tell accounts apart although Prefect masks the key; terminal waits are cached."""

from __future__ import annotations

import pytest
from prefect import flow
from prefect.cache_policies import INPUTS

import crucible_prefect as cp
from crucible_prefect import CrucibleCredentials
from crucible_prefect.tasks.caching import CRUCIBLE_ACCOUNT, IMMUTABLE_WITHIN_RUN


def _creds(key: str, url: str = "http://127.0.0.1:9/api/v2") -> CrucibleCredentials:
    return CrucibleCredentials(api_url=url, api_key=key)


def test_account_policy_separates_keys_and_urls_that_inputs_would_merge():
    a, b = _creds("key-aaaaaaaaaaaa"), _creds("key-bbbbbbbbbbbb")
    # The pitfall: Prefect hashes the masked SecretStr, so plain INPUTS cannot tell a from b.
    assert INPUTS.compute_key(None, {"credentials": a}, {}) == INPUTS.compute_key(
        None, {"credentials": b}, {})

    def key(creds):
        return CRUCIBLE_ACCOUNT.compute_key(None, {"credentials": creds}, {})

    assert key(a) != key(b)
    assert key(a) == key(_creds("key-aaaaaaaaaaaa"))
    assert key(a) != key(_creds("key-aaaaaaaaaaaa", url="http://127.0.0.1:10/api/v2"))
    assert "key-aaaaaaaaaaaa" not in key(a)


def test_only_the_terminal_wait_is_cached():
    assert cp.wait_for_ingestion.cache_policy == IMMUTABLE_WITHIN_RUN
    from prefect.cache_policies import NO_CACHE

    for name in ("get_dataset", "list_datasets", "create_dataset", "upload_files",
                 "request_ingestion", "find_files_by_sha256", "download_dataset"):
        assert getattr(cp, name).cache_policy == NO_CACHE, name


@pytest.mark.prefect
def test_second_wait_in_a_run_is_served_from_cache(crucible_credentials, crucible_user, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("cache me\n")

    @flow
    def twice(credentials: CrucibleCredentials) -> list[str]:
        ds = cp.create_dataset({"dataset_name": "cache", "project_id": crucible_user.project_id},
                               credentials=credentials)
        (f,) = cp.upload_files(ds["unique_id"], [str(path)], credentials=credentials)
        rid = f["ingestion"]["id"]
        first = cp.wait_for_ingestion(rid, credentials=credentials, return_state=True)
        second = cp.wait_for_ingestion(rid, credentials=credentials, return_state=True)
        assert first.result() == second.result()
        return [first.name, second.name]

    assert twice(crucible_credentials) == ["Completed", "Cached"]
