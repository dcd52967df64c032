"""Scientific metadata (deep merge, 409) and links / resources."""

from crucible.mfid import new_mfid


def test_metadata_get_post_patch(api, new_dataset):
    dsid = new_dataset()["unique_id"]
    assert api.get(f"/resources/{dsid}/metadata").json() is None
    r = api.post(f"/resources/{dsid}/metadata", json={"a": {"b": 1, "c": [1, 2]}, "x": 1})
    assert r.status_code == 200
    assert r.json() == {"unique_id": dsid, "scientific_metadata": {"a": {"b": 1, "c": [1, 2]}, "x": 1}}
    assert api.post(f"/resources/{dsid}/metadata", json={"y": 2}).status_code == 409
    merged = api.patch(f"/resources/{dsid}/metadata", json={"a": {"c": [3], "d": 4}}).json()
    assert merged["scientific_metadata"] == {"a": {"b": 1, "c": [3], "d": 4}, "x": 1}
    replaced = api.post(f"/resources/{dsid}/metadata", params={"overwrite": "true"}, json={"z": 0})
    assert replaced.json()["scientific_metadata"] == {"z": 0}
    assert api.get(f"/resources/{dsid}/metadata").json()["scientific_metadata"] == {"z": 0}
    assert api.patch(f"/resources/{dsid}/metadata", json=[1, 2]).status_code == 422


def test_patch_creates_metadata_and_project_metadata(api, new_dataset, crucible_user):
    dsid = new_dataset()["unique_id"]
    assert api.patch(f"/resources/{dsid}/metadata", json={"k": "v"}).json()["scientific_metadata"] == {"k": "v"}
    pid = crucible_user.project_id
    r = api.patch(f"/resources/{pid}/metadata", json={"grant": "G1"})
    assert r.status_code == 200 and r.json()["unique_id"] == pid


def test_metadata_write_needs_write_access(new_dataset, make_user):
    other, _, _ = make_user()
    dsid = new_dataset(public=True)["unique_id"]
    assert other.patch(f"/resources/{dsid}/metadata", json={"k": 1}).status_code == 403
    assert other.get(f"/resources/{dsid}/metadata").status_code == 200
    assert other.get(f"/resources/{new_mfid()}/metadata").status_code == 404


def test_links_parent_child_and_samples(api, new_dataset, crucible_user):
    parent = new_dataset(dataset_name="parent")["unique_id"]
    child = new_dataset(dataset_name="child")["unique_id"]
    sample = api.post("/samples", json={"sample_name": "S1", "project_id": crucible_user.project_id}).json()
    sid = sample["unique_id"]
    assert api.post(f"/datasets/{parent}/children/{child}").status_code == 200
    assert api.post(f"/datasets/{parent}/children/{child}").status_code == 200  # idempotent
    assert api.post(f"/datasets/{parent}/children/{parent}").status_code == 422
    assert api.post(f"/datasets/{child}/samples/{sid}").status_code == 200
    links = {(l["unique_id"], l["relationship"]) for l in api.get(f"/resources/{child}/links").json()}
    assert links == {(parent, "parent"), (sid, "associated")}
    assert [l["relationship"] for l in api.get(f"/resources/{parent}/links").json()] == ["child"]
    kids = api.get(f"/datasets/{parent}/children").json()
    assert kids["total"] == 1 and kids["items"][0]["unique_id"] == child
    assert api.get(f"/datasets/{child}/parents").json()["items"][0]["unique_id"] == parent
    assert [d["unique_id"] for d in api.get(f"/samples/{sid}/datasets").json()] == [child]
    assert api.get(f"/datasets/{child}/samples").json()["items"][0]["unique_id"] == sid
    got = api.get(f"/datasets/{child}", params={"include_links": "true"}).json()
    assert len(got["links"]) == 2
    assert api.delete(f"/datasets/{parent}/children/{child}").status_code == 200
    assert api.delete(f"/datasets/{parent}/children/{child}").status_code == 404
    assert api.get(f"/datasets/{parent}/children").json()["total"] == 0


def test_resources_type_detection(api, new_dataset, crucible_user):
    dsid = new_dataset()["unique_id"]
    r = api.get(f"/resources/{dsid}", params={"include_metadata": "true"}).json()
    assert r["resource_type"] == "dataset" and r["unique_id"] == dsid and "scientific_metadata" in r
    assert api.get(f"/idtype/{dsid}").json() == {"resource_type": "dataset"}
    proj = api.get(f"/resources/{crucible_user.project_id}").json()
    assert proj["resource_type"] == "project"
    assert api.get(f"/resources/{new_mfid()}").status_code == 404


def test_list_filters_by_linked_sample_or_dataset_and_is_null(api, new_dataset, crucible_user):
    tag = new_mfid()
    linked = new_dataset(session_name=tag, measurement="afm")["unique_id"]
    new_dataset(session_name=tag)
    sid = api.post("/samples", json={"sample_name": "s", "project_id": crucible_user.project_id}).json()["unique_id"]
    api.post(f"/datasets/{linked}/samples/{sid}")
    got = api.get("/datasets", params={"sample_mfid": sid}).json()["items"]
    assert [d["unique_id"] for d in got] == [linked]
    got = api.get("/samples", params={"dataset_mfid": linked}).json()["items"]
    assert [s["unique_id"] for s in got] == [sid]
    nulls = api.get("/datasets", params={"session_name": tag, "measurement_is_null": "true"}).json()
    assert nulls["total"] == 1 and nulls["items"][0]["unique_id"] != linked
    assert api.get("/datasets", params={"session_name": tag, "measurement_is_null": "false"}).json()["total"] == 1
