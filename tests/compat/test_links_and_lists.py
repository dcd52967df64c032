"""Samples, dataset↔sample links, parent/child datasets and filtered lists via nano-crucible 3.3.0."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.compat


@pytest.fixture(scope="module")
def family(nano, crucible_user):
    """A session of three datasets (parent, child, unrelated) and one sample, all tagged."""
    tag = uuid.uuid4().hex[:8]

    def dataset(name, **fields):
        return nano.call("datasets.create", {
            "$model": "Dataset", "dataset_name": f"{name} {tag}", "session_name": f"fam-{tag}",
            "project_id": crucible_user.project_id, **fields})["dataset_mfid"]

    ids = {
        "parent": dataset("raw", measurement="afm", data_format="h5"),
        "child": dataset("processed", measurement="afm", data_format="png"),
        "other": dataset("unrelated", measurement="xrd", data_format="h5"),
    }
    sample = nano.call("samples.create", {
        "$model": "Sample", "sample_name": f"wafer {tag}", "sample_type": "thin film",
        "project_id": crucible_user.project_id, "description": "compat sample"})
    ids["sample"] = sample["unique_id"]
    ids["loose"] = nano.call("samples.create", {  # never linked: lists must leave it out
        "$model": "Sample", "sample_name": f"offcut {tag}", "project_id": crucible_user.project_id,
    })["unique_id"]
    ids["sample_record"] = sample
    ids["tag"] = tag
    nano.call("link", ids["parent"], ids["sample"])
    ids["link_trace"] = nano.last_trace
    nano.call("datasets.link", ids["parent"], ids["child"])
    return ids


def test_sample_is_created_with_a_server_made_id(family, crucible_user):
    sample = family["sample_record"]

    assert len(sample["unique_id"]) == 26
    assert sample["sample_type"] == "thin film"
    assert sample["owner_orcid"] == crucible_user.orcid


def test_generic_link_detects_types_and_links_the_sample(family, nano):
    trace = family["link_trace"]

    assert len(nano.requests_to(trace, "GET", f"/resources/{family['parent']}")) == 1
    assert len(nano.requests_to(trace, "GET", f"/resources/{family['sample']}")) == 1
    [post] = nano.requests_to(trace, "POST", f"/datasets/{family['parent']}/samples/{family['sample']}")
    assert post["status"] == 200


def test_links_are_seen_from_both_ends(family, nano):
    def links(rid):
        return {(link["unique_id"], link["relationship"], link["direction"])
                for link in nano.call("get_links", rid)}

    assert links(family["parent"]) == {(family["sample"], "associated", "undirected"),
                                       (family["child"], "child", "target")}
    assert links(family["child"]) == {(family["parent"], "parent", "source")}
    assert links(family["sample"]) == {(family["parent"], "associated", "undirected")}
    assert links(family["other"]) == set()


def test_children_and_parents(family, nano):
    children = nano.call("datasets.list_children", family["parent"])
    parents = nano.call("datasets.list_parents", family["child"])

    assert [d["unique_id"] for d in children] == [family["child"]]
    assert [d["unique_id"] for d in parents] == [family["parent"]]
    assert nano.call("datasets.list_children", family["child"]) == []


def test_datasets_of_a_sample_via_the_sample_mfid_filter(family, nano):
    by_sample = nano.call("datasets.list", sample_mfid=family["sample"])

    assert [d["unique_id"] for d in by_sample] == [family["parent"]]
    [request] = nano.requests_to(nano.last_trace, "GET", "/datasets")
    assert request["query"]["sample_mfid"] == family["sample"]


def test_samples_of_a_dataset_via_the_dataset_mfid_filter(family, nano):
    by_dataset = nano.call("samples.list", dataset_mfid=family["parent"])

    assert [s["unique_id"] for s in by_dataset] == [family["sample"]]
    [request] = nano.requests_to(nano.last_trace, "GET", "/samples")
    assert request["query"]["dataset_mfid"] == family["parent"]


def test_include_links_on_get(family, nano):
    record = nano.call("datasets.get", family["parent"], include_links=True)

    assert {link["unique_id"] for link in record["links"]} == {family["sample"], family["child"]}


@pytest.mark.parametrize("filters, expected", [
    ({}, {"parent", "child", "other"}),
    ({"measurement": "afm"}, {"parent", "child"}),
    ({"measurement": "afm", "data_format": "h5"}, {"parent"}),
    ({"measurement": "AFM"}, set()),  # exact, case-sensitive match
    ({"creation_time_gte": "2000-01-01"}, {"parent", "child", "other"}),
    ({"creation_time_gte": "2999-01-01"}, set()),
    ({"creation_time_lte": "2999-01-01T00:00:00+00:00"}, {"parent", "child", "other"}),
])
def test_list_datasets_with_filters(family, nano, filters, expected):
    found = nano.call("datasets.list", session_name=f"fam-{family['tag']}", **filters)

    assert {d["unique_id"] for d in found} == {family[k] for k in expected}
    [request] = nano.requests_to(nano.last_trace, "GET", "/datasets")
    assert request["query"]["session_name"] == f"fam-{family['tag']}"


def test_list_honours_limit_and_counts(family, nano):
    session = f"fam-{family['tag']}"

    newest = nano.call("datasets.list", session_name=session, limit=2)
    assert len(newest) == 2
    assert nano.call("datasets.count", session_name=session) == 3


def test_list_samples_by_name(family, nano):
    found = nano.call("samples.list", sample_name=f"wafer {family['tag']}")

    assert [s["unique_id"] for s in found] == [family["sample"]]
