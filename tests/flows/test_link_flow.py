"""The link flow end to end: local Crucible server + a real Prefect API (``prefect_backend``)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from crucible_prefect.flows.link import LinkFailed, link_datasets_to_samples

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="module")
def client(crucible_server, crucible_user):
    from crucible import CrucibleClient

    return CrucibleClient(api_url=crucible_server.url, api_key=crucible_user.api_key)


@pytest.fixture(scope="module")
def block_name(prefect_backend, crucible_server, crucible_user) -> str:
    """A saved CrucibleCredentials block for the test user (flows get it by name)."""
    from crucible_prefect.credentials import CrucibleCredentials

    name = f"link-tests-{uuid.uuid4().hex[:8]}"
    CrucibleCredentials(api_url=crucible_server.url, api_key=crucible_user.api_key).save(
        name, overwrite=True)
    return name


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:6]


def make_dataset(client, project, name, **fields) -> str:
    from crucible import Dataset

    return client.datasets.create(Dataset(dataset_name=name, project_id=project, **fields))["dsid"]


def make_sample(client, project, name) -> str:
    return client.samples.create(sample_name=name, project_id=project)["unique_id"]


def linked(client, dataset_id) -> set[str]:
    return {s["unique_id"] for s in client.samples.list(dataset_id=dataset_id, limit=None)}


def artifact_rows(flow_run_id) -> list[dict]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as prefect:
        artifacts = prefect.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]), type={"any_": ["table"]}))
    assert len(artifacts) == 1, artifacts
    data = artifacts[0].data
    return json.loads(data) if isinstance(data, str) else data


def as_dict(report):
    """The report as the JSON a deployment's result shows: rows plus the summary."""
    return report.model_dump(mode="json") | report.summary()


def test_flow_dry_run_then_link_then_rerun_changes_nothing(client, crucible_user, block_name,
                                                           tag):
    project = crucible_user.project_id
    sid = make_sample(client, project, f"S-{tag}")
    d1 = make_dataset(client, project, f"S-{tag}_scan1")
    d2 = make_dataset(client, project, f"S-{tag}_scan2")
    params = dict(rules=[{"kind": "regex", "pattern": r"^(S-\w+)_scan", "source": "dataset_name"}],
                  dataset_ids=[d1, d2], credentials=block_name, artifact_key=f"links-{tag}")

    dry = link_datasets_to_samples(**params, dry_run=True, return_state=True)
    assert dry.is_completed()
    assert dry.result().counts == {"would link": 2}
    rows = artifact_rows(dry.state_details.flow_run_id)
    assert [(r["dataset"], r["sample"], r["status"], r["rule"]) for r in rows] == \
        [(d1, sid, "would link", "1:regex"), (d2, sid, "would link", "1:regex")]
    assert linked(client, d1) == linked(client, d2) == set()

    done = as_dict(link_datasets_to_samples(**params))
    assert done["counts"] == {"linked": 2} and done["unlinked"] == [] and done["failed"] == []
    assert linked(client, d1) == linked(client, d2) == {sid}

    again = as_dict(link_datasets_to_samples(**params))
    assert again["counts"] == {"already linked": 2} and again["created_samples"] == []
    assert linked(client, d1) == linked(client, d2) == {sid}


def test_require_link_fails_the_run_after_linking_the_rest(client, crucible_user, block_name,
                                                           tag):
    project = crucible_user.project_id
    sid = make_sample(client, project, f"ok-{tag}")
    good = make_dataset(client, project, f"ok-{tag}")
    orphan = make_dataset(client, project, f"nobody-{tag}")
    rules = [{"kind": "regex", "pattern": r"^(.+)$", "source": "dataset_name", "value": "name"}]

    state = link_datasets_to_samples(rules=rules, dataset_ids=[good, orphan],
                                     credentials=block_name, require_link=True,
                                     return_state=True)
    assert state.is_failed()
    with pytest.raises(LinkFailed, match=f"{orphan}: no sample named 'nobody-{tag}'"):
        state.result()
    assert linked(client, good) == {sid}
    rows = artifact_rows(state.state_details.flow_run_id)
    assert {r["dataset"]: r["status"] for r in rows} == {good: "linked", orphan: "unlinked"}

    from crucible_prefect.credentials import CrucibleCredentials

    block = CrucibleCredentials.load(block_name)  # a block object works as well as its name
    relaxed = as_dict(link_datasets_to_samples(rules=rules, dataset_ids=[good, orphan],
                                               credentials=block))
    assert relaxed["unlinked"] == [orphan] and relaxed["counts"]["already linked"] == 1


def test_flow_selects_datasets_by_query(client, crucible_server, crucible_user, block_name, tag):
    """A fresh project holds only this test's datasets, so the query's answer is exact whatever
    other tests made, and created_since is shown to filter without waiting for the clock."""
    project = f"LNKQ-{tag}"
    crucible_server.add_user(crucible_user.orcid, projects=[project])  # the same user joins it
    sid = make_sample(client, project, f"Q-{tag}")
    session = make_dataset(client, project, f"session-{tag}")
    kids = [make_dataset(client, project, f"child-{i}-{tag}") for i in range(2)]
    for kid in kids:
        client.datasets.link_parent_child(session, kid)
    rules = [{"kind": "sample_name", "sample_name": f"Q-{tag}"}]

    by_session = as_dict(link_datasets_to_samples(
        rules=rules, query={"session_dataset_id": session}, credentials=block_name))
    assert sorted(r["dataset_id"] for r in by_session["rows"]) == sorted(kids)
    assert all(linked(client, k) == {sid} for k in kids) and linked(client, session) == set()

    now = datetime.now(timezone.utc)
    by_time = as_dict(link_datasets_to_samples(
        rules=rules, query={"project_id": project,
                            "created_since": (now - timedelta(hours=1)).isoformat()},
        credentials=block_name, dry_run=True))
    assert {r["dataset_id"]: r["status"] for r in by_time["rows"]} == \
        {session: "would link", kids[0]: "already linked", kids[1]: "already linked"}
    future = link_datasets_to_samples(
        rules=rules, query={"project_id": project,
                            "created_since": (now + timedelta(hours=1)).isoformat()},
        credentials=block_name, dry_run=True, return_state=True)
    assert future.result(raise_on_failure=False).rows == []


def test_bad_input_fails_before_touching_anything():
    with pytest.raises(ValueError, match="exactly one"):
        link_datasets_to_samples.fn(rules=[{"kind": "sample_name", "sample_name": "x"}])
    with pytest.raises(ValueError, match="exactly one"):
        link_datasets_to_samples.fn(rules=[{"kind": "sample_name", "sample_name": "x"}],
                                    dataset_ids=["a"], query={"project_id": "P"})
    with pytest.raises(ValueError, match="at least one sample rule"):
        link_datasets_to_samples.fn(rules=[], dataset_ids=["a"])
    with pytest.raises(ValueError, match="capturing group"):
        link_datasets_to_samples.fn(rules=[{"kind": "regex", "pattern": "x"}], dataset_ids=["a"])
