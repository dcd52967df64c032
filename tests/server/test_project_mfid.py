"""Project MFIDs: lookup by slug (any case) or MFID, wherever a project id is accepted."""

from __future__ import annotations

from crucible.mfid import is_mfid


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


def test_the_server_answers_with_the_project_mfid_existing_databases_hold(api, crucible_user):
    """The id the server derived before it used crucible.mfid.name_mfid (whose golden values
    are in test_mfid.py): the server's namespace must not move either."""
    assert crucible_user.project_id == "TESTPROJ1"
    assert api.get("/projects/TESTPROJ1").json()["unique_id"] == "gqkckff3vs9chew7m3fbkn49xg"
