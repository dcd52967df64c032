"""Samples, projects and members, users, instruments."""

from crucible.mfid import is_mfid, new_mfid


def test_sample_crud_hierarchy_and_search(api, crucible_user):
    pid = crucible_user.project_id
    tag = new_mfid()[-8:]
    r = api.post("/samples", json={"sample_name": f"wafer-{tag}", "sample_type": "wafer",
                                   "project_id": pid, "date_created": "2026-01-02"})
    assert r.status_code == 200
    parent = r.json()
    assert is_mfid(parent["unique_id"]) and parent["timestamp"] == "2026-01-02"
    assert parent["resource_type"] == "sample" and parent["owner_orcid"] == crucible_user.orcid
    cid = new_mfid()
    child = api.post("/samples", json={"unique_id": cid, "sample_name": f"piece-{tag}",
                                       "project_id": pid}).json()
    assert child["unique_id"] == cid
    assert api.post("/samples", json={"unique_id": cid}).status_code == 409
    assert api.post("/samples", json={"description": "nameless"}).status_code == 422
    assert api.post(f"/samples/{parent['unique_id']}/children/{cid}").status_code == 200
    assert api.get(f"/samples/{parent['unique_id']}/children").json()["items"][0]["unique_id"] == cid
    assert api.get(f"/samples/{cid}/parents").json()["items"][0]["unique_id"] == parent["unique_id"]
    patched = api.patch(f"/samples/{cid}", json={"description": "cut"}).json()
    assert patched["description"] == "cut" and patched["sample_name"] == f"piece-{tag}"
    listed = api.get("/samples", params={"sample_type": "wafer", "project_id": pid}).json()
    assert parent["unique_id"] in {s["unique_id"] for s in listed["items"]}
    assert "next_cursor" in listed and "total" in listed
    found = api.get("/samples/search", params={"q": f"wafer-{tag}", "limit": 10}).json()["items"]
    assert [s["unique_id"] for s in found] == [parent["unique_id"]]
    assert api.get("/samples/search", params={"q": "ab"}).status_code == 422
    assert api.get("/samples/search", params={"q": "abc", "limit": 51}).status_code == 422


def test_dataset_search(api, new_dataset):
    tag = new_mfid()[-10:]
    ds = new_dataset(dataset_name=f"Spectrum {tag}")
    found = api.get("/datasets/search", params={"q": tag.upper(), "limit": 5}).json()["items"]
    assert [d["unique_id"] for d in found] == [ds["unique_id"]]


def test_projects_and_members(admin, make_user):
    user, orcid, _ = make_user(projects=[])
    pid = "P" + new_mfid()[-8:].upper()
    r = admin.post("/projects", json={"project_id": pid, "organization": "Lab", "title": "Perovskites"})
    assert r.status_code == 200 and r.json()["project_id"] == pid
    assert admin.post("/projects", json={"project_id": pid, "organization": "Lab"}).status_code == 409
    assert admin.post("/projects", json={"project_id": "X"}).status_code == 422
    assert user.get(f"/projects/{pid}").status_code == 200  # readable by anyone with a key
    assert user.get(f"/projects/{pid}/users").status_code == 403
    members = admin.post(f"/projects/{pid}/users/{orcid}").json()
    assert [m["unique_id"] for m in members] == [orcid]
    assert pid in user.get("/account").json()["access_group_ids"]
    assert pid in {p["project_id"] for p in user.get("/projects").json()["items"]}
    assert user.get(f"/projects/{pid}/users").json()["total"] == 1
    assert pid in {p["project_id"] for p in user.get(f"/users/{orcid}/projects").json()["items"]}
    assert admin.patch(f"/projects/{pid}", json={"status": "closed"}).json()["status"] == "closed"
    found = user.get("/projects/search", params={"q": "perovsk"}).json()["items"]
    assert pid in {p["project_id"] for p in found}
    assert admin.delete(f"/projects/{pid}/users/{orcid}").status_code == 200
    assert pid not in user.get("/account").json()["access_group_ids"]
    assert admin.delete(f"/projects/{pid}/users/{orcid}").status_code == 404


def test_users(admin, api, crucible_user):
    orcid = "0000-0005-" + new_mfid()[-4:].upper().replace("I", "1") + "-0001"
    r = admin.post("/users", json={"user_info": {"orcid": orcid, "first_name": "Ada",
                                                 "last_name": "L", "email": "ada@example.org"},
                                   "project_ids": [crucible_user.project_id]})
    assert r.status_code == 200 and r.json()["unique_id"] == orcid
    again = admin.post("/users", json={"user_info": {"orcid": orcid, "first_name": "Ada2"}}).json()
    assert again["id"] == r.json()["id"] and again["first_name"] == "Ada2"
    by_email = admin.get("/users", params={"email": "ada@example.org"}).json()
    assert [u["unique_id"] for u in by_email["items"]] == [orcid]
    assert admin.get(f"/users/{orcid}").json()["email"] == "ada@example.org"
    assert api.get(f"/users/{orcid}").status_code == 403
    assert api.get(f"/users/{crucible_user.orcid}").status_code == 200  # self
    assert crucible_user.project_id in admin.get(f"/users/{orcid}/access_groups").json()
    assert admin.patch(f"/users/{orcid}", json={"username": "ada"}).json()["username"] == "ada"
    pub = api.get("/users/by-username/ada").json()
    assert pub["unique_id"] == orcid and "email" not in pub
    found = api.get("/users/search", params={"q": "ada"}).json()["items"]  # the server is shared
    assert orcid in [u["unique_id"] for u in found] and all("email" not in u for u in found)
    sa = admin.post("/service_accounts", json={"username": "svc-" + orcid[-6:]}).json()
    assert is_mfid(sa["unique_id"]) and sa["api_key"]
    assert admin.post("/service_accounts", json={"username": sa["username"]}).status_code == 409


def test_instruments(admin, api):
    name = "XRD-" + new_mfid()[-6:]
    body = {"instrument_name": name, "owner": "Lab", "location": "B1", "manufacturer": "Bruker"}
    assert api.post("/instruments", json=body).status_code == 403
    assert admin.post("/instruments", json={"instrument_name": "no-owner"}).status_code == 422
    inst = admin.post("/instruments", json=body).json()
    assert is_mfid(inst["unique_id"]) and inst["instrument_name"] == name
    assert admin.post("/instruments", json=body).status_code == 409
    assert api.get(f"/instruments/{inst['unique_id']}").json()["manufacturer"] == "Bruker"
    for path in (f"/instruments/{inst['unique_id']}", f"/resources/{inst['unique_id']}"):
        # include_owner adds a dataset's or sample's owning user; an instrument's owner stays its
        # organisation
        assert api.get(path, params={"include_owner": "true"}).json()["owner"] == "Lab", path
    by_name = api.get("/instruments", params={"instrument_name": name}).json()
    assert [i["unique_id"] for i in by_name["items"]] == [inst["unique_id"]]
    assert admin.patch(f"/instruments/{inst['unique_id']}", json={"model": "D8"}).json()["model"] == "D8"
    assert api.get("/instruments/search", params={"q": name}).json()["items"][0]["unique_id"] == inst["unique_id"]


def test_join_requests(admin, make_user):
    lead, lead_orcid, pid = make_user()
    admin.patch(f"/projects/{pid}", json={"project_lead_orcid": lead_orcid})
    asker, asker_orcid, _ = make_user()
    assert asker.post("/access_groups/NO-SUCH-GROUP/join", json={"reason": None}).status_code == 404
    assert asker.post(f"/access_groups/{pid}/join").status_code == 422  # body required
    req = asker.post(f"/access_groups/{pid}/join", json={"reason": "collaborating"}).json()
    assert req["status"] == "pending" and req["group_name"] == pid
    assert asker.post(f"/access_groups/{pid}/join", json={"reason": "again"}).status_code == 409
    assert lead.post(f"/access_groups/{pid}/join", json={"reason": None}).status_code == 409  # member
    assert asker.get("/join_requests", params={"group_name": pid}).status_code == 403
    assert [r["id"] for r in lead.get("/join_requests", params={"group_name": pid}).json()["items"]] == [req["id"]]
    assert asker.patch(f"/join_requests/{req['id']}", json={"status": "approved"}).status_code == 403
    done = lead.patch(f"/join_requests/{req['id']}", json={"status": "approved", "reviewer_notes": "ok"})
    assert done.status_code == 200 and done.json()["reviewer_id"] == lead_orcid
    assert pid in asker.get("/account").json()["access_group_ids"]
    assert lead.patch(f"/join_requests/{req['id']}", json={"status": "rejected"}).status_code == 409
    assert asker.get("/account/join_requests").json()["items"][0]["status"] == "approved"
