"""Promises of docs/server.md not shown elsewhere: signed links survive a restart; a forced
DELETE removes the resource's links, files, metadata and ACLs."""

from __future__ import annotations

import hashlib
import uuid

import pytest
import requests

from crucible import CrucibleClient, NotFoundError
from crucible.mfid import new_mfid


def test_signed_download_links_survive_a_restart(tmp_path):
    from crucible.server.local import LocalCrucible

    with LocalCrucible(tmp_path / "srv") as srv:
        key = srv.add_user("0000-0004-0000-0031", projects=["LINKS"])
        body = b"signed bytes" * 100
        (tmp_path / "f.bin").write_bytes(body)
        with CrucibleClient(srv.url, key) as client:
            dsid = client.datasets.create({"dataset_name": "links", "project_id": "LINKS"})["dsid"]
            row = client.datasets.upload_file(dsid, tmp_path / "f.bin", wait=True, timeout=60)
            link = client.files.download_link(row["mfid"])
        srv.restart()
        got = requests.get(link, timeout=30)
        assert got.status_code == 200 and hashlib.sha256(got.content).digest() == hashlib.sha256(body).digest()


def test_forced_delete_removes_links_files_metadata_and_acls(crucible_server, crucible_user,
                                                              tmp_path):
    tag = uuid.uuid4().int % 10_000
    guest_orcid, group = f"0000-0008-{tag:04d}-0002", f"SEE-{tag:04d}"
    guest_key = crucible_server.add_user(guest_orcid, first_name="Guest")
    (tmp_path / "f.bin").write_bytes(b"to be deleted")
    with CrucibleClient(crucible_server.url, crucible_user.api_key) as user, \
            CrucibleClient(crucible_server.url, crucible_server.admin_key) as admin, \
            CrucibleClient(crucible_server.url, guest_key) as guest:
        admin.users.add_to_access_group(guest_orcid, group)
        project = crucible_user.project_id
        dsid = new_mfid()
        user.datasets.create({"unique_id": dsid, "dataset_name": "doomed", "project_id": project},
                             scientific_metadata={"x": 1})
        parent = user.datasets.create({"dataset_name": "parent", "project_id": project})["dsid"]
        sample = user.samples.create(sample_name=f"s-{tag}", project_id=project)["unique_id"]
        user.datasets.link_parent_child(parent, dsid)
        user.link(sample, dsid)
        file_mfid = user.datasets.upload_file(dsid, tmp_path / "f.bin", wait=True, timeout=60)["mfid"]
        admin.datasets.add_access_group(dsid, group, read=True)
        assert guest.datasets.get(dsid)["unique_id"] == dsid
        assert dsid in [d["unique_id"] for d in user.datasets.list_children(parent, limit=None)]
        assert dsid in [d["unique_id"] for d in user.datasets.list(sample_mfid=sample, limit=None)]

        admin.deletions.delete(dsid, force=True)

        with pytest.raises(NotFoundError):
            admin.datasets.get(dsid)
        assert dsid not in [d["unique_id"] for d in user.datasets.list_children(parent, limit=None)]
        assert dsid not in [d["unique_id"] for d in user.datasets.list(sample_mfid=sample, limit=None)]
        with pytest.raises(NotFoundError):
            admin.files.get(file_mfid)
        # the same id made again starts clean: no metadata, no link, no grant for the old group
        user.datasets.create({"unique_id": dsid, "dataset_name": "reborn", "project_id": project})
        assert user.datasets.get_scientific_metadata(dsid) in ({}, None)
        assert user.files.list(dataset_id=dsid) == []
        assert admin.datasets.get_access_groups(dsid) == []
        with pytest.raises(NotFoundError):
            guest.datasets.get(dsid)
