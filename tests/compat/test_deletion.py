"""Filing (and reviewing) a deletion request through nano-crucible 3.3.0."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.compat


@pytest.fixture
def doomed(nano, crucible_user):
    name = f"compat doomed {uuid.uuid4().hex[:8]}"
    dsid = nano.call("datasets.create", {"$model": "Dataset", "dataset_name": name,
                                         "project_id": crucible_user.project_id})["dataset_mfid"]
    return dsid, name


def test_a_deletion_request_hides_the_dataset_from_lists(nano, doomed, crucible_user):
    dsid, name = doomed

    filed = nano.call("deletions.request", dsid, reason="compat: wrong sample")

    assert filed["status"] == "pending"
    assert filed["resource_id"] == dsid and filed["resource_type"] == "dataset"
    assert filed["reason"] == "compat: wrong sample"
    assert filed["requester_id"] == crucible_user.orcid
    assert isinstance(filed["id"], int)
    [post] = nano.requests_to(nano.last_trace, "POST", f"/resources/{dsid}/delete")
    assert post["query"] == {"reason": "compat: wrong sample"}
    assert nano.call("datasets.list", dataset_name=name) == []
    still = nano.call("datasets.get", dsid)
    assert still["deletion_request"]["status"] == "pending"


def test_an_admin_can_review_and_a_rejection_restores_the_dataset(nano, nano_admin, doomed):
    dsid, name = doomed
    filed = nano.call("deletions.request", dsid)

    assert nano_admin.call("deletions.get", filed["id"])["resource_id"] == dsid
    pending = nano_admin.call("deletions.list", status="pending")
    assert filed["id"] in [r["id"] for r in pending]
    rejected = nano_admin.call("deletions.reject", filed["id"], reviewer_notes="keep it")

    assert rejected["status"] == "rejected" and rejected["reviewer_notes"] == "keep it"
    [patch] = nano_admin.requests_to(nano_admin.last_trace, "PATCH", f"/deletion_requests/{filed['id']}")
    assert patch["query"] == {"status": "rejected", "reviewer_notes": "keep it"}
    assert [d["unique_id"] for d in nano.call("datasets.list", dataset_name=name)] == [dsid]


def test_a_normal_user_cannot_review(nano, doomed):
    dsid, _ = doomed
    filed = nano.call("deletions.request", dsid)

    with pytest.raises(nano.Error) as refused:
        nano.call("deletions.approve", filed["id"])

    assert refused.value.status in (403, 404)
