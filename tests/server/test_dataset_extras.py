"""Keywords, thumbnails, processing requests, graphs, deletion requests, metadata search."""

import base64

from crucible.mfid import new_mfid

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()


def test_keywords_are_idempotent(api, new_dataset):
    ds = new_dataset()["unique_id"]
    word = "kw-" + new_mfid()[-6:]
    one = api.post(f"/datasets/{ds}/keywords", params={"keyword": word}).json()
    two = api.post(f"/datasets/{ds}/keywords", params={"keyword": word}).json()
    assert one == two == {"keyword": word, "num_datasets": 1}
    assert api.get(f"/datasets/{ds}/keywords").json() == [{"keyword": word, "num_datasets": 1}]
    assert api.post(f"/datasets/{ds}/keywords", params={"keyword": " "}).status_code == 422
    assert api.post(f"/datasets/{ds}/keywords").status_code == 422


def test_thumbnails(api, new_dataset):
    ds = new_dataset()["unique_id"]
    t = api.post(f"/datasets/{ds}/thumbnails", json={"thumbnail_name": "a.png", "thumbnail_b64str": PNG})
    assert t.status_code == 200 and isinstance(t.json()["id"], int)
    again = api.post(f"/datasets/{ds}/thumbnails", json={"thumbnail_name": "a.png", "thumbnail_b64str": PNG})
    assert again.json()["id"] == t.json()["id"]
    assert len(api.get(f"/datasets/{ds}/thumbnails").json()) == 1
    bad = api.post(f"/datasets/{ds}/thumbnails", json={"thumbnail_name": "b", "thumbnail_b64str": "@@"})
    assert bad.status_code == 422
    assert api.delete(f"/datasets/{ds}/thumbnails/{t.json()['id']}").status_code == 200
    assert api.get(f"/datasets/{ds}/thumbnails").json() == []


def test_processing_requests(api, new_dataset):
    ds = new_dataset()["unique_id"]
    for name in ("carrier_segmentation", "insitu_spec_aggregation", "rga_analysis", "mosaic_stitch"):
        r = api.post(f"/datasets/{ds}/{name}").json()
        assert r["request_type"] == name and r["dataset_mfid"] == ds and r["status"] == "complete"
    assert api.post(f"/datasets/{ds}/no_such_analysis").status_code == 404


def test_graphs(api, new_dataset, crucible_user):
    a, b, c = (new_dataset(dataset_name=n)["unique_id"] for n in "abc")
    s = api.post("/samples", json={"sample_name": "s", "project_id": crucible_user.project_id}).json()
    api.post(f"/datasets/{a}/children/{b}")
    api.post(f"/datasets/{b}/children/{c}")
    api.post(f"/datasets/{a}/samples/{s['unique_id']}")
    near = api.get(f"/entity_graph_cte/{a}").json()
    assert {n["id"] for n in near["nodes"]} == {a, b, s["unique_id"]}
    assert {"source": s["unique_id"], "target": a} in [{k: e[k] for k in ("source", "target")}
                                                       for e in near["edges"]]
    assert near["links"] == near["edges"]
    full = api.get(f"/entity_graph_cte/{a}", params={"recursive": "true"}).json()
    assert {n["id"] for n in full["nodes"]} == {a, b, c, s["unique_id"]}
    proj = api.get(f"/project_graph/{crucible_user.project_id}").json()
    assert {a, b, c} <= {n["id"] for n in proj["nodes"]}
    assert api.get("/project_graph/NOPE-PROJECT").status_code == 404


def test_deletion_lifecycle(api, admin, new_dataset):
    tag = new_mfid()
    ds = new_dataset(session_name=tag)["unique_id"]
    one = api.post(f"/resources/{ds}/delete", params={"reason": "mistake"}).json()
    assert one["status"] == "pending" and one["resource_type"] == "dataset"
    assert api.post(f"/resources/{ds}/delete", params={"reason": "mistake"}).json()["id"] == one["id"]
    assert api.get("/datasets", params={"session_name": tag}).json()["total"] == 0  # hidden at once
    got = api.get(f"/datasets/{ds}").json()
    assert got["deletion_request"]["status"] == "pending"
    assert api.patch(f"/deletion_requests/{one['id']}", params={"status": "approved"}).status_code == 403
    rejected = admin.patch(f"/deletion_requests/{one['id']}", params={"status": "rejected"}).json()
    assert rejected["status"] == "rejected" and rejected["reviewer_id"]
    assert api.get("/datasets", params={"session_name": tag}).json()["total"] == 1  # restored
    assert admin.patch(f"/deletion_requests/{one['id']}", params={"status": "approved"}).status_code == 409
    assert admin.delete(f"/resources/{ds}").status_code == 409  # no approved request
    two = api.post(f"/resources/{ds}/delete").json()
    assert two["id"] != one["id"]
    admin.patch(f"/deletion_requests/{two['id']}", params={"status": "approved", "reviewer_notes": "ok"})
    assert api.get("/datasets", params={"session_name": tag}).json()["total"] == 0
    r = admin.delete(f"/resources/{ds}")
    assert r.status_code == 200 and r.json()["detail"] == f"Resource {ds} permanently deleted"
    assert api.get(f"/datasets/{ds}").status_code == 404
    audit = admin.get("/deletion_audit", params={"resource_id": ds}).json()
    assert audit["total"] == 1 and audit["items"][0]["deleted_at"]
    assert admin.get(f"/deletion_audit/{audit['items'][0]['id']}").json()["resource_id"] == ds
    assert {r["id"] for r in admin.get("/deletion_requests").json()["items"]} >= {one["id"], two["id"]}
    assert admin.get("/deletion_requests", params={"status": "rejected"}).json()["total"] >= 1


def test_force_delete_and_legacy_request(api, admin, new_dataset):
    ds = new_dataset()["unique_id"]
    assert api.delete(f"/resources/{ds}", params={"force": "true"}).status_code == 403
    r = api.post("/deletion_requests", params={"resource_id": ds, "reason": "old path"})
    assert r.status_code == 200 and r.json()["status"] == "pending"
    assert admin.delete(f"/resources/{ds}", params={"force": "true"}).status_code == 200
    assert admin.delete(f"/resources/{ds}", params={"force": "true"}).status_code == 404


def test_metadata_search(api, new_dataset, make_user):
    word = "zeolite" + new_mfid()[-6:]
    ds = new_dataset()["unique_id"]
    api.post(f"/resources/{ds}/metadata", json={"material": word, "temperature_K": 300})
    hits = api.get("/resources/metadata/search", params={"q": word, "limit": 10}).json()["items"]
    assert [h["unique_id"] for h in hits] == [ds] and hits[0]["resource_type"] == "dataset"
    both = api.get("/resources/metadata/search", params={"q": f"{word} temperature_k"}).json()["items"]
    assert [h["unique_id"] for h in both] == [ds]
    assert api.get("/resources/metadata/search", params={"q": f"{word} absent"}).json()["items"] == []
    other, _, _ = make_user()
    assert other.get("/resources/metadata/search", params={"q": word}).json()["items"] == []
    assert api.get("/resources/metadata/search", params={"q": "ab"}).status_code == 422
