"""Scientific metadata and keywords through nano-crucible 3.3.0."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.compat


@pytest.fixture
def dsid(nano, crucible_user):
    created = nano.call("datasets.create",
                        {"$model": "Dataset", "dataset_name": f"compat md {uuid.uuid4().hex[:6]}",
                         "project_id": crucible_user.project_id},
                        scientific_metadata={"sample": {"temp_k": 300, "gas": "N2"}, "runs": [1, 2]})
    return created["dataset_mfid"]


def test_metadata_merges_deeply_and_can_be_replaced(nano, dsid):
    assert nano.call("datasets.get_scientific_metadata", dsid)["scientific_metadata"] == {
        "sample": {"temp_k": 300, "gas": "N2"}, "runs": [1, 2]}

    merged = nano.call("datasets.update_scientific_metadata", dsid,
                       {"sample": {"temp_k": 77}, "runs": [3]})
    assert merged["scientific_metadata"] == {"sample": {"temp_k": 77, "gas": "N2"}, "runs": [3]}

    replaced = nano.call("datasets.update_scientific_metadata", dsid, {"only": True},
                         overwrite=True)
    assert replaced["scientific_metadata"] == {"only": True}
    [post] = nano.requests_to(nano.last_trace, "POST", f"/resources/{dsid}/metadata")
    assert post["query"] == {"overwrite": "True"}

    record = nano.call("datasets.get", dsid, include_metadata=True)
    assert record["scientific_metadata"] == {"only": True}


def test_metadata_of_a_dataset_without_any_is_null(nano, crucible_user):
    bare = nano.call("datasets.create", {"$model": "Dataset", "dataset_name": "compat bare",
                                         "project_id": crucible_user.project_id})
    assert bare["scientific_metadata_record"] is None
    assert not nano.requests_to(nano.last_trace, "PATCH", "/metadata")

    assert nano.call("datasets.get_scientific_metadata", bare["dataset_mfid"]) is None


def test_keywords_are_counted_and_readding_is_a_no_op(nano, dsid):
    word = f"compatkw{uuid.uuid4().hex[:6]}"

    first = nano.call("datasets.add_keyword", dsid, word)
    again = nano.call("datasets.add_keyword", dsid, word)

    assert first["keyword"] == word and first["num_datasets"] == 1
    assert again["num_datasets"] == 1
    keywords = nano.call("datasets.get_keywords", dsid)
    assert [k["keyword"] for k in keywords].count(word) == 1
    found = nano.call("datasets.list", keyword=word.upper())
    assert [d["unique_id"] for d in found] == [dsid]
