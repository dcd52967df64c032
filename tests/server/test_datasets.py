"""Datasets: create, get, patch, keyset lists with filters, access rules."""

from crucible.mfid import is_mfid, new_mfid


def test_create_with_client_id_and_duplicate_is_409(api, new_dataset):
    ds = new_dataset(dataset_name="client id", measurement="xrd")
    assert is_mfid(ds["unique_id"]) and ds["measurement"] == "xrd"
    assert ds["public"] is False and ds["resource_type"] == "dataset"
    assert ds["creation_time"] and ds["modification_time"]
    again = api.post("/datasets", json={"unique_id": ds["unique_id"], "dataset_name": "other"})
    assert again.status_code == 409
    assert api.get(f"/datasets/{ds['unique_id']}").json()["dataset_name"] == "client id"


def test_create_with_server_id_and_owner_default(api, crucible_user):
    r = api.post("/datasets", json={"dataset_name": "server id", "public": False})
    assert r.status_code == 200
    ds = r.json()
    assert is_mfid(ds["unique_id"]) and ds["owner_orcid"] == crucible_user.orcid


def test_client_id_must_be_mfid_format(api):
    for bad in ("not-an-id", "0swqzb3a1sthv000xd8kta0vr1", "../../etc/passwd"):
        assert api.post("/datasets", json={"unique_id": bad}).status_code == 422


def test_deterministic_non_uuid7_mfid_is_accepted(api):
    uid = "0" * 25 + "4"  # valid mfid alphabet and last symbol, not a UUIDv7
    r = api.post("/datasets", json={"unique_id": uid, "dataset_name": "fixed"})
    assert r.status_code in (200, 409)
    assert api.get(f"/datasets/{uid}").status_code == 200


def test_patch_updates_and_keeps_id(api, new_dataset):
    ds = new_dataset()
    r = api.patch(f"/datasets/{ds['unique_id']}", json={"data_format": "hdf5", "size": 12,
                                                        "unique_id": new_mfid()})
    assert r.status_code == 200
    out = r.json()
    assert out["unique_id"] == ds["unique_id"]
    assert out["data_format"] == "hdf5" and out["size"] == 12
    assert out["modification_time"] >= ds["modification_time"]
    assert api.patch(f"/datasets/{ds['unique_id']}", json={"size": "big"}).status_code == 422


def test_unknown_dataset_is_404(api):
    assert api.get(f"/datasets/{new_mfid()}").status_code == 404
    assert api.patch(f"/datasets/{new_mfid()}", json={"size": 1}).status_code == 404


def test_keyset_pages_are_full_until_the_end(api, new_dataset):
    tag = new_mfid()
    made = [new_dataset(session_name=tag)["unique_id"] for _ in range(7)]
    seen, cursor, pages = [], None, []
    while True:
        params = {"session_name": tag, "limit": 3} | ({"cursor": cursor} if cursor else {})
        page = api.get("/datasets", params=params).json()
        assert page["total"] == 7 and page["limit"] == 3
        pages.append(len(page["items"]))
        seen += [d["unique_id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [3, 3, 1]
    assert seen == list(reversed(made))  # newest first


def test_filters_match_exactly_and_keyword_is_substring(api, new_dataset):
    tag = new_mfid()
    a = new_dataset(session_name=tag, measurement="XRD", size=5)
    new_dataset(session_name=tag, measurement="xrd")
    api.post(f"/datasets/{a['unique_id']}/keywords", params={"keyword": "Perovskite-" + tag})
    got = api.get("/datasets", params={"session_name": tag, "measurement": "XRD"}).json()
    assert [d["unique_id"] for d in got["items"]] == [a["unique_id"]]
    got = api.get("/datasets", params={"session_name": tag, "size": "5"}).json()
    assert [d["unique_id"] for d in got["items"]] == [a["unique_id"]]
    got = api.get("/datasets", params={"keyword": "perovskite-" + tag}).json()
    assert [d["unique_id"] for d in got["items"]] == [a["unique_id"]]
    got = api.get("/datasets", params={"session_name": tag, "public": "False"}).json()
    assert got["total"] == 2


def test_time_filters(api, new_dataset):
    tag = new_mfid()
    first = new_dataset(session_name=tag)
    second = new_dataset(session_name=tag)
    got = api.get("/datasets", params={"session_name": tag,
                                       "creation_time_gte": second["creation_time"]}).json()
    assert [d["unique_id"] for d in got["items"]] == [second["unique_id"]]
    got = api.get("/datasets", params={"session_name": tag,
                                       "creation_time_lte": first["creation_time"]}).json()
    assert [d["unique_id"] for d in got["items"]] == [first["unique_id"]]
    assert api.get("/datasets", params={"creation_time_gte": "yesterday"}).status_code == 422


def test_access_rules(api, new_dataset, make_user, crucible_user):
    other, _, other_project = make_user()
    private = new_dataset()
    assert other.get(f"/datasets/{private['unique_id']}").status_code == 404
    assert other.patch(f"/datasets/{private['unique_id']}", json={"size": 1}).status_code == 404
    public = new_dataset(public=True)
    assert other.get(f"/datasets/{public['unique_id']}").status_code == 200
    assert other.patch(f"/datasets/{public['unique_id']}", json={"size": 1}).status_code == 403
    # creating in a project you are not a member of is refused
    r = other.post("/datasets", json={"dataset_name": "x", "project_id": crucible_user.project_id})
    assert r.status_code == 403
    listed = {d["unique_id"] for d in other.get("/datasets", params={"limit": 1000}).json()["items"]}
    assert public["unique_id"] in listed and private["unique_id"] not in listed


def test_include_flags(api, new_dataset, crucible_user):
    ds = new_dataset()
    api.patch(f"/resources/{ds['unique_id']}/metadata", json={"temp": 300})
    got = api.get(f"/datasets/{ds['unique_id']}", params={"include_metadata": "True",
                                                          "include_owner": "1"}).json()
    assert got["scientific_metadata"] == {"temp": 300}
    assert got["owner"]["unique_id"] == crucible_user.orcid and "email" not in got["owner"]
    listed = api.get("/datasets", params={"include_links": "TRUE", "limit": 1}).json()["items"][0]
    assert listed["links"] == [] or isinstance(listed["links"], list)


def test_failed_create_leaves_nothing(api):
    uid = new_mfid()
    assert api.post("/datasets", json={"unique_id": uid, "project_id": "NO-SUCH-PROJECT"}).status_code == 404
    assert api.post("/datasets", json={"unique_id": uid, "public": "maybe"}).status_code == 422
    assert api.get(f"/datasets/{uid}").status_code == 404
