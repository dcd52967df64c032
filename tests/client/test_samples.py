"""samples.*: create with client ids, parents/children, datasets, update, lists, search."""

from __future__ import annotations

import pytest

from crucible import ConflictError, Dataset, NotFoundError, Sample
from crucible.mfid import is_mfid, new_mfid


def test_create_get_update(client, project_id):
    s = client.samples.create(sample_name="wafer", project_id=project_id, sample_type="Si",
                              description="d", date_created="2025-05-06T07:08:09+00:00")
    sid = s["unique_id"]
    assert is_mfid(sid) and s["sample_type"] == "Si"
    assert client.samples.get(sid)["timestamp"].startswith("2025-05-06")
    out = client.samples.update(sid, description="polished", sample_type=None)
    assert out["description"] == "polished" and out["sample_type"] == "Si"
    with pytest.raises(ValueError):
        client.samples.create()


def test_caller_chosen_id_and_conflict(client, project_id):
    sid = new_mfid()
    assert client.samples.create(unique_id=sid, sample_name="mine",
                                 project_id=project_id)["unique_id"] == sid
    with pytest.raises(ConflictError):
        client.samples.create(unique_id=sid, sample_name="other", project_id=project_id)


def test_parents_children_and_lists(client, project_id):
    p = client.samples.create(sample_name="boule", project_id=project_id)["unique_id"]
    c = client.samples.create(sample_name="piece", project_id=project_id,
                              parents=[p])["unique_id"]
    g = client.samples.create(sample_name="grand", project_id=project_id)["unique_id"]
    client.samples.update(c, children=[g])
    assert [s["unique_id"] for s in client.samples.list_children(p)] == [c]
    assert [s["unique_id"] for s in client.samples.list(parent_id=p)] == [c]
    assert [s["unique_id"] for s in client.samples.list_parents(g)] == [c]
    graph = client.samples.graph(p, recursive=True)
    assert {n["id"] for n in graph["nodes"]} >= {p, c, g}
    client.samples.remove_child(c, g)
    assert client.samples.list_children(c) == []
    client.samples.link(c, g)
    assert [s["unique_id"] for s in client.samples.list_children(c)] == [g]


def test_samples_and_datasets(client, project_id):
    sid = client.samples.create(sample_name="s", project_id=project_id)["unique_id"]
    dsid = client.datasets.create(Dataset(dataset_name="d", project_id=project_id))["dsid"]
    client.samples.add_dataset(sid, dsid)
    assert [s["unique_id"] for s in client.samples.list(dataset_id=dsid)] == [sid]
    assert [d["unique_id"] for d in client.datasets.list(sample_id=sid)] == [dsid]
    assert [s["unique_id"] for s in client.datasets.list_samples(dsid)] == [sid]
    client.samples.remove_dataset(sid, dsid)
    assert client.samples.list(dataset_id=dsid) == []
    with pytest.warns(DeprecationWarning):
        client.samples.add_to_dataset(dsid, sid)
    with pytest.warns(DeprecationWarning):
        client.samples.remove_from_dataset(dsid, sid)
    with pytest.raises(NotFoundError):
        client.samples.remove_dataset(sid, dsid)


def test_list_count_search_metadata(client, project_id):
    tag = new_mfid()[-10:]
    for i in range(3):
        client.samples.create(sample_name=f"otter-{tag}-{i}", project_id=project_id,
                              sample_type=tag)
    assert len(client.samples.list(sample_type=tag, limit=None)) == 3
    assert len(client.samples.list(sample_type=tag, limit=2)) == 2
    assert client.samples.count(sample_type=tag) == 3
    assert len(client.samples.search(f"otter-{tag}")) == 3
    sid = client.samples.list(sample_type=tag, limit=1)[0]["unique_id"]
    client.samples.update_scientific_metadata(sid, {"thickness": 3})
    assert client.samples.get_scientific_metadata(sid) == {"thickness": 3}


def test_sample_model_keeps_unknown_fields():
    s = Sample(sample_name="x", date_created="2024-01-01", custom_field=5)
    assert s.payload() == {"sample_name": "x", "timestamp": "2024-01-01", "custom_field": 5}
