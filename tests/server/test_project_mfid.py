"""Project MFIDs: lookup by slug (any case) or MFID, wherever a project id is accepted."""

from __future__ import annotations

import pytest

from crucible.mfid import is_mfid
from crucible.server.routes.projects import project_mfid


def test_projects_carry_a_stable_mfid_usable_everywhere_a_project_id_is(api, crucible_user):
    pid = crucible_user.project_id
    [listed] = api.get("/projects", params={"project_id": pid.lower()}).json()["items"]
    mfid = listed["unique_id"]

    assert is_mfid(mfid) and listed["project_id"] == pid
    assert api.get(f"/projects/{mfid}").json()["project_id"] == pid
    assert api.get(f"/projects/{pid}").json()["unique_id"] == mfid
    assert api.get(f"/resources/{mfid}").json()["resource_type"] == "project"
    assert api.patch(f"/resources/{mfid}/metadata", json={"k": 1}).status_code == 200
    assert api.get(f"/resources/{pid}/metadata").json()["scientific_metadata"]["k"] == 1
    assert api.get("/projects", params={"project_id": "NO-SUCH"}).json()["items"] == []
    assert api.get(f"/resources/{'0' * 26}").status_code == 404


@pytest.mark.parametrize("project_id, expected", [
    ("TESTPROJ1", "gqkckff3vs9chew7m3fbkn49xg"),
    ("PRIV100", "9pq74v88j5eq1c658phmxrk45g"),
    ("my-project", "gcvbkq26tsdxne69yg96h43q0g"),
])
def test_project_mfids_are_those_existing_databases_hold(project_id, expected):
    """The ids the server derived before it used crucible.mfid.name_mfid: they must not move."""
    assert project_mfid(project_id) == expected


def test_the_server_answers_with_the_derived_project_mfid(api, crucible_user):
    assert crucible_user.project_id == "TESTPROJ1"
    assert api.get("/projects/TESTPROJ1").json()["unique_id"] == "gqkckff3vs9chew7m3fbkn49xg"
