"""datasets.*: records, wrapper of create, lists, metadata, keywords, thumbnails, links."""

from __future__ import annotations

import base64
import hashlib

import pytest
import requests

from crucible import ConflictError, Dataset, NotFoundError, ValidationError
from crucible.mfid import is_mfid, new_mfid
from crucible.pagination import collect

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def test_create_returns_the_seed_wrapper(client, project_id):
    res = client.datasets.create(Dataset(dataset_name="wrapped", project_id=project_id,
                                         measurement="xrd"),
                                 scientific_metadata={"beam": {"energy": 12}},
                                 keywords=["alpha", "beta"])
    assert set(res) == {"created_record", "scientific_metadata_record", "dsid"}
    dsid = res["dsid"]
    assert is_mfid(dsid) and res["created_record"]["unique_id"] == dsid
    assert res["created_record"]["measurement"] == "xrd"
    assert res["scientific_metadata_record"]["scientific_metadata"] == {"beam": {"energy": 12}}
    kws = {k["keyword"] if isinstance(k, dict) else k for k in client.datasets.get_keywords(dsid)}
    assert kws == {"alpha", "beta"}
    got = client.datasets.get(dsid, include_metadata=True)
    assert got["dataset_name"] == "wrapped"
    assert got["scientific_metadata"] == {"beam": {"energy": 12}}


def test_create_with_files_uploads_ingests_and_waits(client, project_id, make_file):
    a = make_file("a.bin", 700 * 1024)  # three chunks of 256 KiB
    b = make_file("b.txt", content=b"hello")
    res = client.datasets.create({"dataset_name": "with-files", "project_id": project_id},
                                 files_to_upload=[a, b])
    assert {"uploaded_files", "ingestion_request"} <= set(res)
    files = res["uploaded_files"]
    assert [f["sha256_hash"] for f in files] == [
        hashlib.sha256(a.read_bytes()).hexdigest(), hashlib.sha256(b"hello").hexdigest()]
    assert res["ingestion_request"]["status"] == "complete"
    assert res["ingestion_request"]["file_mfid"] == files[0]["mfid"]
    stored = client.files.list(dataset_id=res["dsid"])
    assert sorted(f["mfid"] for f in stored) == sorted(f["mfid"] for f in files)
    assert all(f["storage_path"] for f in stored)
    assert client.datasets.get(res["dsid"])["timestamp"]  # the first file's mtime


def test_create_with_missing_file_creates_nothing(client, project_id, tmp_path):
    before = client.datasets.count(project_id=project_id)
    with pytest.raises(FileNotFoundError):
        client.datasets.create(Dataset(dataset_name="nope", project_id=project_id),
                               files_to_upload=[tmp_path / "missing.bin"])
    assert client.datasets.count(project_id=project_id) == before


def test_create_with_an_existing_id_is_a_conflict(client, project_id):
    dsid = new_mfid()
    client.datasets.create(Dataset(unique_id=dsid, dataset_name="first", project_id=project_id))
    with pytest.raises(ConflictError) as err:
        client.datasets.create(Dataset(unique_id=dsid, dataset_name="second",
                                       project_id=project_id))
    assert isinstance(err.value, requests.HTTPError)
    assert err.value.status_code == 409 and "POST /datasets" in str(err.value)
    assert client.datasets.get(dsid)["dataset_name"] == "first"


def test_get_unknown_is_not_found(client):
    with pytest.raises(NotFoundError) as err:
        client.datasets.get(new_mfid())
    assert "GET /datasets/" in str(err.value) and err.value.status_code == 404


def test_update_and_legacy_timestamp(client, project_id):
    dsid = client.datasets.create({"dataset_name": "upd", "project_id": project_id,
                                   "creation_date": "2024-01-02T03:04:05+00:00"})["dsid"]
    assert client.datasets.get(dsid)["timestamp"].startswith("2024-01-02")
    out = client.datasets.update(dsid, measurement="saxs", data_format="h5")
    assert out["measurement"] == "saxs"
    assert client.datasets.get(dsid)["data_format"] == "h5"


def test_list_follows_cursors_to_the_end(client, project_id):
    names = {f"page-{i}" for i in range(7)}
    session = new_mfid()
    for n in sorted(names):
        client.datasets.create(Dataset(dataset_name=n, project_id=project_id,
                                       session_name=session))
    every = collect(client._transport, "datasets", params={"session_name": session},
                    limit=None, page_size=3)
    assert sorted(d["dataset_name"] for d in every) == sorted(names)
    assert len({d["unique_id"] for d in every}) == 7
    assert len(client.datasets.list(session_name=session, limit=None)) == 7
    assert len(client.datasets.list(session_name=session, limit=2)) == 2
    assert client.datasets.count(session_name=session) == 7
    # an unknown filter name is ignored by the server (as Crucible does), a real one filters
    assert len(client.datasets.list(session_name=session, limit=None, no_such_field="x")) == 7


def test_limit_must_not_be_negative(client):
    with pytest.raises(ValueError):
        client.datasets.list(limit=-1)


def test_scientific_metadata_add_merge_replace(client, dataset):
    assert client.datasets.get_scientific_metadata(dataset) == {}
    client.datasets.add_scientific_metadata(dataset, {"a": {"x": 1}, "l": [1]})
    with pytest.raises(ConflictError):
        client.datasets.add_scientific_metadata(dataset, {"a": 2})
    client.datasets.update_scientific_metadata(dataset, {"a": {"y": 2}, "l": [2]})
    assert client.datasets.get_scientific_metadata(dataset) == {"a": {"x": 1, "y": 2}, "l": [2]}
    client.datasets.update_scientific_metadata(dataset, {"only": True}, overwrite=True)
    assert client.datasets.get_scientific_metadata(dataset) == {"only": True}
    client.datasets.replace_scientific_metadata(dataset, {"z": "zeta"})
    assert client.datasets.get_scientific_metadata(dataset) == {"z": "zeta"}


def test_search_scientific_metadata(client, dataset):
    token = "quokka" + new_mfid()[-6:]
    client.datasets.update_scientific_metadata(dataset, {"animal": token})
    hits = client.datasets.search_scientific_metadata(token)
    assert any(h.get("unique_id") == dataset for h in hits)


def test_keywords_are_idempotent(client, dataset):
    client.datasets.add_keyword(dataset, "Gamma")
    client.datasets.add_keyword(dataset, "Gamma")
    kws = client.datasets.get_keywords(dataset)
    names = [k["keyword"] if isinstance(k, dict) else k for k in kws]
    assert names.count("Gamma") == 1
    everywhere = client.datasets.get_keywords(limit=None)
    assert any((k["keyword"] if isinstance(k, dict) else k) == "Gamma" for k in everywhere)


def test_thumbnails(client, dataset, tmp_path):
    p = tmp_path / "t.png"
    p.write_bytes(PNG)
    client.datasets.add_thumbnail(dataset, p)
    client.datasets.add_thumbnail(dataset, base64.b64encode(PNG).decode(), thumbnail_name="b64")
    thumbs = client.datasets.get_thumbnails(dataset)
    assert sorted(t["thumbnail_name"] for t in thumbs) == ["b64", "t.png"]
    assert base64.b64decode(thumbs[0]["thumbnail_b64str"]) == PNG
    with pytest.raises(FileNotFoundError):  # a short path is not mistaken for image data
        client.datasets.add_thumbnail(dataset, "a/bc")


def test_dataset_links_and_graph(client, project_id):
    p = client.datasets.create(Dataset(dataset_name="parent", project_id=project_id))["dsid"]
    c = client.datasets.create(Dataset(dataset_name="child", project_id=project_id))["dsid"]
    client.datasets.link_parent_child(p, c)
    client.datasets.link_parent_child(p, c)  # re-linking is harmless
    assert [d["unique_id"] for d in client.datasets.list_children(p)] == [c]
    assert [d["unique_id"] for d in client.datasets.list_parents(c)] == [p]
    g = client.datasets.graph(p)
    assert {"source": p, "target": c} in [{"source": e["source"], "target": e["target"]}
                                          for e in g["edges"]]
    client.datasets.remove_child(p, c)
    assert client.datasets.list_children(p) == []
    with pytest.raises(NotFoundError):
        client.datasets.remove_child(p, c)


def test_self_link_is_a_validation_error(client, dataset):
    with pytest.raises(ValidationError) as err:
        client.datasets.link_parent_child(dataset, dataset)
    assert err.value.status_code == 422


def test_search_by_name(client, project_id):
    name = "zebrafish-" + new_mfid()[-8:]
    dsid = client.datasets.create(Dataset(dataset_name=name, project_id=project_id))["dsid"]
    assert dsid in [d["unique_id"] for d in client.datasets.search(name[:12], limit=50)]


def test_delete_files_a_deletion_request(client, dataset, admin):
    req = client.datasets.delete(dataset, reason="test")
    assert req["status"] == "pending" and req["resource_id"] == dataset
    again = client.datasets.delete(dataset, reason="test")
    assert again["id"] == req["id"]  # no duplicate pending request
    assert dataset not in [d["unique_id"] for d in client.datasets.list(limit=None)]
    assert admin.deletions.get(req["id"])["status"] == "pending"


def test_access_groups(admin, dataset, crucible_server):
    """A read-only group grant lets a member of that group (in no project) read, not write;
    granting twice stores one grant."""
    import uuid

    from crucible import CrucibleClient
    from crucible.errors import CrucibleHTTPError

    tag = uuid.uuid4().int % 10_000
    orcid, group = f"0000-0008-{tag:04d}-0001", f"GUESTS-{tag:04d}"
    guest_key = crucible_server.add_user(orcid, first_name="Guest")
    admin.users.add_to_access_group(orcid, group)
    with CrucibleClient(crucible_server.url, guest_key) as guest:
        with pytest.raises(NotFoundError):
            guest.datasets.get(dataset)
        assert admin.users.check_dataset_access(orcid, dataset) == {"read": False, "write": False}
        admin.datasets.add_access_group(dataset, group, read=True, write=False)
        admin.datasets.add_access_group(dataset, group, read=True, write=False)
        assert admin.datasets.get_access_groups(dataset).count(group) == 1
        assert guest.datasets.get(dataset)["unique_id"] == dataset
        assert dataset in [d["unique_id"] for d in guest.datasets.list(limit=None)]
        assert admin.users.check_dataset_access(orcid, dataset) == {"read": True, "write": False}
        with pytest.raises(CrucibleHTTPError) as refused:
            guest.datasets.add_keyword(dataset, "guest-was-here")
        assert refused.value.status_code == 403


def test_request_ingestion_and_status(client, dataset, make_file):
    f = client.datasets.upload_file(dataset, make_file("x.csv", 100), ingest=False)
    assert f["storage_path"] is None and "ingestion_request" not in f
    req = client.datasets.request_ingestion(dataset, "x.csv", wait_for_response=True,
                                            timeout=60)
    assert req["status"] == "complete" and req["file_mfid"] == f["mfid"]
    assert client.datasets.get_request_status(dataset, req["id"], "ingest")["id"] == req["id"]
    links = client.datasets.get_download_links(dataset)
    assert list(links) == [f["mfid"]]


def test_download_links_empty_until_ingested(client, dataset):
    assert client.datasets.get_download_links(dataset) == {}
    with pytest.raises(NotFoundError):
        client.datasets.get_download_links(new_mfid())


def test_offset_envelopes_are_followed_to_the_end(client, dataset, make_file):
    made = {client.datasets.upload_file(dataset, make_file(f"o{i}.bin", 10 + i),
                                        ingest=False)["mfid"] for i in range(5)}
    rows = collect(client._transport, "files", params={"dataset_id": dataset}, limit=None,
                   page_size=2)
    assert {r["mfid"] for r in rows} == made and len(rows) == 5
    assert len(collect(client._transport, "files", params={"dataset_id": dataset}, limit=3,
                       page_size=2)) == 3


def test_bare_lists_and_envelopes_are_both_accepted():
    from crucible.errors import CrucibleError
    from crucible.pagination import items_of

    assert items_of([1, 2]) == [1, 2]
    assert items_of({"items": [3], "total": 1}) == [3]
    assert items_of(None) == []
    with pytest.raises(CrucibleError):
        items_of({"detail": "not a list"})


def test_associated_files_processing_and_shims(client, project_id, make_file):
    dsid = client.datasets.create(Dataset(dataset_name="misc", project_id=project_id))["dsid"]
    p = make_file("reg.bin", 123)
    row = client.datasets.add_associated_file(dsid, p, filename="registered.bin")
    assert row["filename"].endswith("registered.bin") and row["size"] == 123
    for req, kind in ((client.datasets.request_carrier_segmentation(dsid), "carrier_segmentation"),
                      (client.datasets.request_insitu_aggregation(dsid), "insitu_spec_aggregation"),
                      (client.datasets.request_rga_analysis(dsid), "rga_analysis"),
                      (client.datasets.request_mosaic_stitch(dsid), "mosaic_stitch")):
        assert req["dataset_mfid"] == dsid and req["status"] == "complete"
        assert req["request_type"] == kind
    with pytest.raises(ValueError, match="unknown processing request"):
        client.datasets.request_processing(dsid, "frobnicate")
    with pytest.warns(DeprecationWarning):
        res = client.datasets.create_from_files(
            Dataset(dataset_name="shim", project_id=project_id), [make_file("s.bin", 5)],
            wait_for_ingestion_response=False)
    assert len(res["uploaded_files"]) == 1


def test_graph_as_networkx(client, project_id):
    pytest.importorskip("networkx")
    a = client.datasets.create(Dataset(dataset_name="nx-a", project_id=project_id))["dsid"]
    b = client.datasets.create(Dataset(dataset_name="nx-b", project_id=project_id))["dsid"]
    client.datasets.link_parent_child(a, b)
    g = client.datasets.graph(a, as_networkx=True)
    assert list(g.successors(a)) == [b]


def test_a_failed_set_up_names_the_created_dataset(client, project_id, make_file):
    f = make_file("r.bin", 100)
    with pytest.raises(ValidationError) as err:
        client.datasets.create(Dataset(dataset_name="half", project_id=project_id),
                               files_to_upload=[f], ingestor="NoSuchIngestor")
    dsid = err.value.dsid
    assert client.datasets.get(dsid)["dataset_name"] == "half"
    # finishing it reuses the uploaded file: nothing is uploaded twice
    rec = client.datasets.upload_file(dsid, f, wait=True, timeout=60)
    assert rec["ingestion_request"]["status"] == "complete"
    assert len(client.files.list(dataset_id=dsid)) == 1


def test_a_list_cut_by_limit_is_logged(client, project_id, caplog):
    """docs/client.md: a result cut by ``limit`` is logged, never silent; ``limit=None`` is not."""
    import logging

    for i in range(3):
        client.datasets.create(Dataset(dataset_name=f"cut-{i}", project_id=project_id))
    with caplog.at_level(logging.INFO, logger="crucible"):
        assert len(client.datasets.list(limit=2, project_id=project_id)) == 2
    assert any("returning the first 2" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="crucible"):
        assert len(client.datasets.list(limit=None, project_id=project_id)) >= 3
    assert not any("returning the first" in r.getMessage() for r in caplog.records)


def listing_twice(endpoint: str):
    """A gateway rewrite that answers the ``endpoint`` listing with every row twice, the copy
    under other ids: what a server that does not keep names or emails unique would return."""
    import json

    def rewrite(method: str, path: str, body: bytes) -> bytes:
        if not path.split("?")[0].endswith(endpoint):
            return body
        page = json.loads(body)
        items = page["items"] if isinstance(page, dict) else page
        items.extend([dict(row, unique_id=f"{row.get('unique_id')}-2",
                           orcid=f"{row.get('orcid')}-2", id=(row.get("id") or 0) + 10**6)
                      for row in list(items)])
        if isinstance(page, dict) and "total" in page:
            page["total"] = len(items)
        return json.dumps(page).encode()

    return rewrite


def test_users_get_by_an_ambiguous_email_raises(gateway, crucible_server, admin):
    """docs/client.md: users.get(email=) raises on an ambiguous match instead of picking one.
    Our server keeps emails unique; a gateway answers the listing with the user twice (a second
    orcid), as a server that does not would."""
    import uuid

    from crucible import CrucibleClient, CrucibleError

    tag = uuid.uuid4().int % 10_000
    email = f"shared-{tag}@example.org"
    crucible_server.add_user(f"0000-0008-{tag:04d}-0003", email=email)

    with CrucibleClient(gateway.api, crucible_server.admin_key) as via_gateway:
        assert via_gateway.users.get(email=email)["email"] == email
        gateway.rewrite = listing_twice("/users")
        with pytest.raises(CrucibleError, match="2 users have the email"):
            via_gateway.users.get(email=email)
    assert admin.users.get(email=f"nobody-{tag}@example.org") is None


def test_instruments_get_by_an_ambiguous_name_raises(gateway, crucible_server, admin):
    """docs/client.md: instruments.get(instrument_name=) raises on an ambiguous match. The real
    API does not keep names unique; ours does, so a gateway answers the listing with the
    instrument twice (a second id), as such an API would."""
    import uuid

    from crucible import CrucibleClient, CrucibleError

    name = f"twin-{uuid.uuid4().hex[:6]}"
    admin.instruments.create({"instrument_name": name, "owner": "Tests", "location": "Lab"})

    with CrucibleClient(gateway.api, crucible_server.admin_key) as via_gateway:
        assert via_gateway.instruments.get(instrument_name=name)["instrument_name"] == name
        gateway.rewrite = listing_twice("/instruments")
        with pytest.raises(CrucibleError, match=f"2 instruments are named '{name}'"):
            via_gateway.instruments.get(instrument_name=name)


def test_a_whole_list_of_a_thousand_is_not_taken_for_a_cut_page(client, dataset, caplog):
    """A dataset's keywords come as one whole list: 1000 of them (the page size) are all there
    is, not a page the server may have cut, so nothing warns; ``limit`` still cuts here."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: client.datasets.add_keyword(dataset, f"kw-{i:04d}"), range(1000)))
    with caplog.at_level("WARNING", logger="crucible.pagination"):
        everything = client.datasets.get_keywords(dataset, limit=None)
        first = client.datasets.get_keywords(dataset, limit=10)
    names = {k["keyword"] if isinstance(k, dict) else k for k in everything}
    assert names == {f"kw-{i:04d}" for i in range(1000)}
    assert len(first) == 10
    assert not [r for r in caplog.records if "may be incomplete" in r.getMessage()]
