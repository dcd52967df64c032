"""projects, instruments, users, graphs, deletions: the admin-side namespaces."""

from __future__ import annotations

import pytest

from crucible import ConflictError, Dataset, Instrument, NotFoundError, Project, User
from crucible.mfid import new_mfid


def test_projects(admin, client, crucible_user):
    pid = "P" + new_mfid()[-8:].upper()
    created = admin.projects.create(Project(project_id=pid, organization="lab", title="T"))
    assert created["project_id"] == pid
    with pytest.raises(ConflictError):
        admin.projects.create({"project_id": pid, "organization": "lab"})
    assert admin.projects.get_or_create(pid)["title"] == "T"
    other = "Q" + new_mfid()[-8:].upper()
    assert admin.projects.get_or_create(other, organization="x")["project_id"] == other
    assert admin.projects.update(pid, title="New")["title"] == "New"
    admin.projects.add_user(crucible_user.orcid, pid)
    admin.projects.add_user(crucible_user.orcid, pid)
    members = [u.get("unique_id") or u.get("orcid") for u in admin.projects.get_users(pid)]
    assert crucible_user.orcid in members
    assert pid in [p["project_id"] for p in client.projects.list(limit=None)]
    assert pid in [p["project_id"] for p in admin.projects.list(orcid=crucible_user.orcid,
                                                               limit=None)]
    assert pid in [p["project_id"] for p in admin.projects.search(pid)]
    admin.datasets.update_scientific_metadata(pid, {"grant": "G-1"})
    assert admin.projects.get_scientific_metadata(pid) == {"grant": "G-1"}
    admin.projects.remove_user(pid, crucible_user.orcid)
    assert pid not in [p["project_id"] for p in client.projects.list(limit=None)]


def test_instruments(admin):
    name = "TEM-" + new_mfid()[-6:]
    inst = admin.instruments.create(Instrument(instrument_name=name, owner="lab", location="B1"))
    assert admin.instruments.get(instrument_id=inst["unique_id"])["instrument_name"] == name
    assert admin.instruments.get(instrument_name=name)["unique_id"] == inst["unique_id"]
    assert admin.instruments.get(instrument_name="no such " + name) is None
    assert admin.instruments.get_or_create(name)["unique_id"] == inst["unique_id"]
    made = admin.instruments.get_or_create(name + "b", location="B2", instrument_owner="lab")
    assert made["instrument_name"] == name + "b"
    assert admin.instruments.update(inst["unique_id"], model="X1")["model"] == "X1"
    assert name in [i["instrument_name"] for i in admin.instruments.list(limit=None)]
    assert inst["unique_id"] in [i["unique_id"] for i in admin.instruments.search(name)]


def test_instrument_names_are_unique(admin):
    name = "dup-" + new_mfid()[-6:]
    first = admin.instruments.create({"instrument_name": name, "owner": "o", "location": "l"})
    with pytest.raises(ConflictError):
        admin.instruments.create({"instrument_name": name, "owner": "o", "location": "l"})
    assert admin.instruments.get_or_create(name)["unique_id"] == first["unique_id"]


def test_users(admin, crucible_user, project_id):
    orcid = "0000-0001-" + new_mfid()[-9:-5].upper().replace("O", "0") + "-0001"
    u = admin.users.create(User(orcid=orcid, first_name="Ada", last_name="L",
                                email=f"{orcid}@example.org"), project_ids=[project_id])
    again = admin.users.create({"orcid": orcid, "first_name": "Ada", "last_name": "L",
                                "email": f"{orcid}@example.org"}, project_ids=[project_id])
    assert (u.get("unique_id") or u.get("orcid")) == (again.get("unique_id") or again.get("orcid"))
    assert admin.users.get(orcid)["first_name"] == "Ada"
    assert admin.users.get(email=f"{orcid}@example.org")["first_name"] == "Ada"
    assert admin.users.get(email="nobody-" + orcid + "@example.org") is None
    assert admin.users.update(orcid, first_name="Ada2")["first_name"] == "Ada2"
    assert orcid in [u["unique_id"] for u in admin.users.search("Ada2")]
    ids = [r.get("id") for r in admin.users.list(limit=None)]
    assert ids == sorted(ids)
    assert project_id in [p["project_id"] for p in admin.users.get_projects(orcid)]
    admin.users.add_to_access_group(orcid, project_id)
    assert project_id in admin.users.list_access_groups(orcid)
    dsid = admin.datasets.create(Dataset(dataset_name="acc", project_id=project_id))["dsid"]
    assert dsid in admin.users.list_datasets(orcid)
    assert admin.users.check_dataset_access(orcid, dsid)["read"] is True
    admin.users.remove_from_access_group(orcid, project_id)
    assert admin.users.check_dataset_access(orcid, dsid)["read"] is False


def test_graphs(client, project_id):
    a = client.datasets.create(Dataset(dataset_name="a", project_id=project_id))["dsid"]
    b = client.datasets.create(Dataset(dataset_name="b", project_id=project_id))["dsid"]
    c = client.datasets.create(Dataset(dataset_name="c", project_id=project_id))["dsid"]
    client.datasets.link_parent_child(a, b)
    client.datasets.link_parent_child(b, c)
    near = client.graphs.get(a)
    whole = client.graphs.get(a, recursive=True)
    assert {n["id"] for n in near["nodes"]} == {a, b}
    assert {n["id"] for n in whole["nodes"]} == {a, b, c}
    proj = client.graphs.project(project_id)
    assert {a, b, c} <= {n["id"] for n in proj["nodes"]}


def test_deletion_lifecycle(admin, client, project_id):
    dsid = client.datasets.create(Dataset(dataset_name="bye", project_id=project_id))["dsid"]
    req = client.deletions.request(dsid, reason="obsolete")
    assert req["id"] in [r["id"] for r in admin.deletions.list(status="pending", limit=None)]
    rejected = admin.deletions.reject(req["id"], reviewer_notes="keep")
    assert rejected["status"] == "rejected"
    assert dsid in [d["unique_id"] for d in client.datasets.list(limit=None)]
    req2 = client.deletions.request(dsid)
    with pytest.raises(ConflictError):
        admin.deletions.delete(dsid)  # not approved yet
    assert admin.deletions.approve(req2["id"])["status"] == "approved"
    admin.deletions.delete(dsid)
    with pytest.raises(NotFoundError):
        client.datasets.get(dsid)
    audit = admin.deletions.list_deleted(resource_id=dsid, limit=None)
    assert len(audit) == 1 and admin.deletions.get_deleted(audit[0]["id"])["resource_id"] == dsid


def test_forced_delete(admin, client, project_id):
    dsid = client.datasets.create(Dataset(dataset_name="force", project_id=project_id))["dsid"]
    admin.deletions.delete(dsid, force=True)
    with pytest.raises(NotFoundError):
        admin.datasets.get(dsid)
