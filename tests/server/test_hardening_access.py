"""Who may claim an identity, read private things and take ownership (issue 12, items 1, 3, 4).

Accounts as in the issue: A leads P1, B leads P2, C is a member of P1 (and leads P4).
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

import pytest

from crucible.mfid import new_mfid


class Person(NamedTuple):
    api: object
    orcid: str
    email: str


@pytest.fixture
def abc(make_user):
    """(A, B, C, P1, P4): A leads P1, B leads P2, C is a member of P1 and leads P4."""
    a, a_orcid, p1 = make_user()
    b, b_orcid, _ = make_user()
    p4 = "P4" + uuid.uuid4().hex[:10]
    c, c_orcid, _ = make_user(projects=[p1, p4])
    people = [Person(s, o, s.get("/account/profile").json()["email"])
              for s, o in ((a, a_orcid), (b, b_orcid), (c, c_orcid))]
    return (*people, p1, p4)


def _dataset(client, project, **fields) -> dict:
    body = {"unique_id": new_mfid(), "dataset_name": "hardening", "project_id": project,
            "public": False} | fields
    r = client.post("/datasets", json=body)
    assert r.status_code == 200, r.text
    return r.json()


# --- 1. an email is not an identity a user can claim ---------------------------------------

def test_email_of_another_user_cannot_be_claimed(abc):
    a, b, c, _p1, p4 = abc
    before = b.api.get("/account/profile").json()
    for claimed in (a.email, a.email.upper(), f"  {a.email} "):
        r = b.api.patch("/account/profile", json={"email": claimed})
        assert r.status_code == 409, r.text
    assert b.api.get("/account/profile").json() == before
    # the lead of P4 adding "the user with A's email" adds A, never B
    added = c.api.post(f"/projects/{p4}/users/me", params={"email": a.email})
    assert added.status_code == 200, added.text
    assert [u["unique_id"] for u in added.json()] == [a.orcid]
    resolved = b.api.post("/users/resolve", json={"emails": [a.email]}).json()
    assert resolved[a.email]["unique_id"] == a.orcid


def test_own_email_and_username_changes_still_work(abc):
    _a, b, _c, _p1, _p4 = abc
    fresh = f"b-{uuid.uuid4().hex[:8]}@example.org"
    r = b.api.patch("/account/profile", json={"email": fresh, "username": "b" + uuid.uuid4().hex[:8]})
    assert r.status_code == 200 and r.json()["email"] == fresh
    assert b.api.patch("/account/profile", json={"email": fresh}).status_code == 200  # unchanged


def test_bad_profile_bodies_are_4xx_and_change_nothing(abc, admin):
    a, b, _c, _p1, _p4 = abc
    name = "taken" + uuid.uuid4().hex[:8]
    assert a.api.patch("/account/profile", json={"username": name}).status_code == 200
    before = b.api.get("/account/profile").json()
    assert b.api.patch("/account/profile", json={"username": name}).status_code == 409
    for body in ({"email": ["x"]}, {"email": "not an email"}, {"first_name": {"a": 1}},
                 {"email": "x@" + "y" * 300}):
        r = b.api.patch("/account/profile", json=body)
        assert r.status_code == 422, (body, r.text)
    assert b.api.get("/account/profile").json() == before
    other = {"user_info": {"orcid": f"0000-0009-{uuid.uuid4().int % 10**4:04d}-0001", "email": a.email}}
    assert admin.post("/users", json=other).status_code == 409
    assert admin.patch(f"/users/{b.orcid}", json={"email": a.email}).status_code == 409


# --- 3. private things stay private ----------------------------------------------------------

def test_project_metadata_is_members_only(abc):
    a, b, c, p1, _p4 = abc
    assert a.api.patch(f"/resources/{p1}/metadata", json={"budget": "confidential"}).status_code == 200
    r = b.api.get(f"/resources/{p1}/metadata")
    assert r.status_code == 403 and "confidential" not in r.text
    assert c.api.get(f"/resources/{p1}/metadata").json()["scientific_metadata"] == {"budget": "confidential"}
    assert b.api.get(f"/projects/{p1}").status_code == 200  # the record itself stays readable


def test_links_hide_private_neighbours(abc):
    a, b, c, p1, _p4 = abc
    shown = _dataset(a.api, p1, public=True)["unique_id"]
    secret = _dataset(a.api, p1, dataset_name="secret child")["unique_id"]
    assert a.api.post(f"/datasets/{shown}/children/{secret}").status_code == 200
    for client, sees in ((b.api, False), (c.api, True)):
        links = client.get(f"/resources/{shown}/links").json()
        assert (secret in str(links)) is sees
        rec = client.get(f"/datasets/{shown}", params={"include_links": "true"}).json()
        assert (secret in str(rec["links"])) is sees and ("secret child" in str(rec)) is sees
        listed = client.get(f"/resources/{shown}", params={"include_links": "true"}).json()
        assert (secret in str(listed)) is sees


def test_keywords_of_private_datasets_stay_private(abc):
    a, b, _c, p1, _p4 = abc
    word, shared = "kw-" + uuid.uuid4().hex[:10], "kw-" + uuid.uuid4().hex[:10]
    shown = _dataset(a.api, p1, public=True)["unique_id"]
    secret = _dataset(a.api, p1)["unique_id"]
    for ds, kw in ((secret, word), (secret, shared), (shown, shared)):
        assert a.api.post(f"/datasets/{ds}/keywords", params={"keyword": kw}).status_code == 200
    assert word not in {k["keyword"] for k in b.api.get("/keywords").json()}
    mine = {k["keyword"]: k["num_datasets"] for k in a.api.get("/keywords").json()}
    assert mine[word] == 1 and mine[shared] == 2
    seen_by_b = {k["keyword"]: k["num_datasets"] for k in b.api.get(f"/datasets/{shown}/keywords").json()}
    assert seen_by_b == {shared: 1}


# --- 4. nobody takes or forges ownership -----------------------------------------------------

def test_member_cannot_take_or_move_anothers_dataset(abc):
    a, _b, c, p1, p4 = abc
    ds = _dataset(a.api, p1)
    for body in ({"owner_orcid": c.orcid, "project_id": None}, {"owner_orcid": c.orcid},
                 {"project_id": None}, {"project_id": p4}):
        r = c.api.patch(f"/datasets/{ds['unique_id']}", json=body)
        assert r.status_code == 403, (body, r.text)
    now = a.api.get(f"/datasets/{ds['unique_id']}").json()
    assert (now["owner_orcid"], now["project_id"]) == (a.orcid, p1)
    ok = c.api.patch(f"/datasets/{ds['unique_id']}", json={"measurement": "edited by a member",
                                                           "project_id": p1, "owner_orcid": a.orcid})
    assert ok.status_code == 200  # ordinary edits (and unchanged owner/project) still work
    assert a.api.patch(f"/datasets/{ds['unique_id']}", json={"project_id": None}).status_code == 200


def test_create_cannot_name_someone_else_as_owner(abc, admin):
    a, b, _c, _p1, _p4 = abc
    p2 = next(g for g in b.api.get("/account").json()["access_group_ids"] if g.startswith("PRJ"))
    r = b.api.post("/datasets", json={"unique_id": new_mfid(), "dataset_name": "forged",
                                      "project_id": p2, "owner_orcid": a.orcid})
    assert r.status_code == 403
    r = b.api.post("/samples", json={"sample_name": "forged", "owner_orcid": a.orcid})
    assert r.status_code == 403
    assert a.api.get("/datasets", params={"dataset_name": "forged"}).json()["total"] == 0
    by_admin = admin.post("/datasets", json={"dataset_name": "on behalf", "owner_orcid": a.orcid})
    assert by_admin.status_code == 200 and by_admin.json()["owner_orcid"] == a.orcid
