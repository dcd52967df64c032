"""CrucibleClient's own methods, typed errors, and secrets kept out of reprs, errors and logs."""

from __future__ import annotations

import logging
import pickle
import re

import pytest
import requests

from crucible import (AuthenticationError, CrucibleClient, CrucibleError, Dataset,
                      NotFoundError, ValidationError)
from crucible.errors import redact_url
from crucible.mfid import new_mfid


def test_health_and_whoami(client, crucible_user):
    assert client.health()["status"] in ("ok", "degraded")
    me = client.whoami()
    assert me["user_info"]["unique_id"] == crucible_user.orcid
    assert crucible_user.project_id in me["access_group_ids"]


def test_generic_get_and_type(client, project_id, dataset):
    assert client.get_resource_type(dataset) == "dataset"
    assert client.get(dataset)["unique_id"] == dataset
    assert client.get(dataset, resource_type="dataset")["unique_id"] == dataset
    s = client.samples.create(sample_name="s1", project_id=project_id)
    assert client.get_resource_type(s["unique_id"]) == "sample"
    assert client.get(s["unique_id"], resource_type="sample")["sample_name"] == "s1"
    client.datasets.update_scientific_metadata(dataset, {"m": 1})
    assert client.get(dataset, include_metadata=True)["scientific_metadata"] == {"m": 1}
    with pytest.raises(NotFoundError):
        client.get_resource_type(new_mfid())


def test_link_unlink_any_pair(client, project_id):
    d1 = client.datasets.create(Dataset(dataset_name="d1", project_id=project_id))["dsid"]
    d2 = client.datasets.create(Dataset(dataset_name="d2", project_id=project_id))["dsid"]
    s1 = client.samples.create(sample_name="s1", project_id=project_id)["unique_id"]
    s2 = client.samples.create(sample_name="s2", project_id=project_id)["unique_id"]
    client.link(d1, d2)
    client.link(s1, s2)
    client.link(s1, d1)  # sample and dataset in either order
    links = {(l["unique_id"], l["relationship"]) for l in client.get_links(d1)}
    assert links == {(d2, "child"), (s1, "associated")}
    assert {l["unique_id"] for l in client.get_links(s1)} == {s2, d1}
    client.unlink(d2, d1)  # the direction need not be known
    client.unlink(d1, s1)
    client.unlink(s1, s2)
    assert client.get_links(d1) == [] and client.get_links(s1) == []


def test_error_types_and_messages(client, crucible_server):
    with pytest.raises(NotFoundError) as err:
        client.samples.get(new_mfid())
    assert isinstance(err.value, requests.HTTPError) and isinstance(err.value, CrucibleError)
    assert str(err.value).startswith("GET /samples/")
    with pytest.raises(ValidationError) as err:
        client._transport.request("GET", "datasets", params={"limit": 5000})
    assert err.value.status_code == 422 and err.value.errors
    assert all("msg" in e for e in err.value.errors)
    with CrucibleClient(crucible_server.url, "wrong-key-0123456789") as bad:
        with pytest.raises(AuthenticationError) as err:
            bad.whoami()
    assert "wrong-key" not in str(err.value) and err.value.status_code in (401, 403)
    err.value.dsid = "x"
    restored = pickle.loads(pickle.dumps(err.value))
    assert type(restored) is AuthenticationError and restored.status_code == err.value.status_code
    assert str(restored) == str(err.value) and restored.dsid == "x"


def test_non_admin_is_refused(client):
    with pytest.raises(AuthenticationError):
        client.users.list()


def test_reprs_never_show_the_key(client, crucible_user):
    key = crucible_user.api_key
    for obj in (client, client.config, client.datasets, client._transport):
        assert key not in repr(obj) and key[-4:] not in repr(obj)
    with pytest.raises(TypeError):
        pickle.dumps(client)


@pytest.mark.parametrize("holder", ["transport", "config"])
def test_the_key_never_travels_in_a_pickle(client, holder):
    obj = getattr(client, holder)
    with pytest.raises(TypeError, match="API key"):
        pickle.dumps(obj)
    assert "Authorization" in client.transport.api.headers  # the object itself still works
    assert client.whoami()


def test_redact_url():
    assert redact_url("https://h.example:8443/p/x?sig=abc&expires=1#f") == \
        "https://h.example:8443/p/x"
    assert redact_url("https://user:pw@h/p?x=1") == "https://h/p"
    assert redact_url("http://h:1/_uploads/0abc123/x?y=1") == "http://h:1/_uploads/<redacted>/x"
    assert redact_url("/_uploads/0abc123") == "/_uploads/<redacted>"


def test_resumable_upload_uris_are_redacted_in_debug_logs(client, dataset, make_file, caplog):
    """The URI works without a key, so urllib3's request lines must not show its id."""
    p = make_file("uri.bin", 3 * 256 * 1024)
    with caplog.at_level(logging.DEBUG):
        client.files.upload(dataset, p, ingest=False)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert sum("PUT /_uploads/<redacted>" in line for line in lines) == 3  # one per chunk
    assert not [line for line in lines if re.search(r"/_uploads/(?!<redacted>)", line)]


def test_secrets_never_logged_and_nothing_printed(client, crucible_user, project_id, make_file,
                                                 tmp_path, caplog, capsys):
    p = make_file("secret.bin", 300 * 1024)
    with caplog.at_level(logging.DEBUG):
        res = client.datasets.create(Dataset(dataset_name="logs", project_id=project_id),
                                     files_to_upload=[p])
        url = client.files.download_link(res["uploaded_files"][0]["mfid"])
        client.download(res["dsid"], output_dir=tmp_path / "out")
        with pytest.raises(NotFoundError):
            client.datasets.get(new_mfid())
    signature = url.split("sig=")[1].split("&")[0]
    text = "\n".join(r.getMessage() + str(r.args) for r in caplog.records)
    assert caplog.records, "expected DEBUG records from crucible"
    assert any(r.name.startswith("crucible.") for r in caplog.records)
    assert crucible_user.api_key not in text
    assert signature not in text and "sig=" not in text
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_one_client_serves_many_threads(client, project_id, make_file):
    from concurrent.futures import ThreadPoolExecutor

    session = new_mfid()
    files = [make_file(f"t{i}.bin", 2000 + i) for i in range(8)]

    def work(i: int) -> str:
        dsid = client.datasets.create(Dataset(dataset_name=f"thr{i}", project_id=project_id,
                                              session_name=session))["dsid"]
        client.datasets.upload_file(dsid, files[i], ingest=False)
        return dsid

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(work, range(8)))
    assert sorted(d["unique_id"] for d in client.datasets.list(session_name=session,
                                                               limit=None)) == sorted(ids)
    assert all(len(client.files.list(dataset_id=d)) == 1 for d in ids)
