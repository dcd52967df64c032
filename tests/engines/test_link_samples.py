"""Sample linking against the local Crucible server over real HTTP (no Prefect needed here).

Each test makes its own datasets and samples with names unique to the test, in the shared user's
project; a second user owns a project the first one cannot read.
"""

from __future__ import annotations

import unicodedata
import uuid

import pytest

from crucible.linking import SampleCatalog, link_datasets
from crucible.linking.plan import NOT_READABLE


@pytest.fixture(scope="module")
def client(crucible_server, crucible_user):
    from crucible import CrucibleClient

    return CrucibleClient(api_url=crucible_server.url, api_key=crucible_user.api_key)


@pytest.fixture(scope="module")
def project(crucible_user) -> str:
    return crucible_user.project_id


@pytest.fixture(scope="module")
def other(crucible_server):
    """A second user and project the first user cannot read: (client, project_id)."""
    from crucible import CrucibleClient

    project_id = f"LNK-OTHER-{uuid.uuid4().hex[:6]}"
    key = crucible_server.add_user("0000-0003-1415-9269", projects=[project_id])
    return CrucibleClient(api_url=crucible_server.url, api_key=key), project_id


@pytest.fixture
def tag() -> str:
    """A short per-test token that keeps names unique across tests on the shared server."""
    return uuid.uuid4().hex[:6]


def make_dataset(client, project, name, *, metadata=None, file_to_upload=None, **fields) -> str:
    from crucible import Dataset

    record = Dataset(dataset_name=name, project_id=project, file_to_upload=file_to_upload,
                     **fields)
    made = client.datasets.create(record, scientific_metadata=metadata)
    return made["dsid"]


def make_sample(client, project, name, **fields) -> str:
    return client.samples.create(sample_name=name, project_id=project, **fields)["unique_id"]


def linked(client, dataset_id) -> set[str]:
    return {s["unique_id"] for s in client.samples.list(dataset_id=dataset_id, limit=None)}


def run(client, dataset_ids, rules, **kw):
    return link_datasets(SampleCatalog(client), dataset_ids, rules, **kw)


def rows_of(report, dataset_id):
    return [r for r in report.rows if r.dataset_id == dataset_id]


# -- explicit ids ---------------------------------------------------------------------------


def test_explicit_ids_link_and_a_rerun_changes_nothing(client, project, tag):
    s1, s2 = make_sample(client, project, f"A-{tag}"), make_sample(client, project, f"B-{tag}")
    ds = make_dataset(client, project, f"ds-{tag}")
    rules = [{"kind": "sample_ids", "sample_ids": [s1, s2]}]

    first = run(client, [ds], rules)
    assert [(r.sample_id, r.status, r.rule) for r in first.rows] == \
        [(s1, "linked", "1:sample_ids"), (s2, "linked", "1:sample_ids")]
    assert linked(client, ds) == {s1, s2}

    again = run(client, [ds], rules)
    assert [r.status for r in again.rows] == ["already linked", "already linked"]
    assert again.created_samples == [] and linked(client, ds) == {s1, s2}


def test_unknown_sample_id_links_none_of_the_list(client, project, tag):
    s1 = make_sample(client, project, f"A-{tag}")
    ds = make_dataset(client, project, f"ds-{tag}")
    from crucible.mfid import new_mfid

    ghost = new_mfid()
    report = run(client, [ds], [{"kind": "sample_ids", "sample_ids": [s1, ghost]}])
    (row,) = report.rows
    assert row.status == "unlinked" and ghost in row.reason and NOT_READABLE in row.reason
    assert linked(client, ds) == set()


# -- names ----------------------------------------------------------------------------------


def test_name_lookup_is_exact_and_case_sensitive(client, project, tag):
    sid = make_sample(client, project, f"TF-{tag}")
    make_sample(client, project, f"TF-{tag}-long")  # a prefix match must not count
    ds_lower = make_dataset(client, project, f"lower-{tag}")
    ds_exact = make_dataset(client, project, f"exact-{tag}")

    lower = run(client, [ds_lower], [{"kind": "sample_name", "sample_name": f"tf-{tag}"}])
    exact = run(client, [ds_exact], [{"kind": "sample_name", "sample_name": f"TF-{tag}"}])

    assert lower.rows[0].status == "unlinked"
    assert f"no sample named 'tf-{tag}'" in lower.rows[0].reason
    assert (exact.rows[0].sample_id, exact.rows[0].status) == (sid, "linked")
    assert linked(client, ds_lower) == set() and linked(client, ds_exact) == {sid}


def test_ambiguous_name_reports_candidates_and_links_none(client, project, tag):
    a = make_sample(client, project, f"dup-{tag}")
    b = make_sample(client, project, f"dup-{tag}")
    ds = make_dataset(client, project, f"ds-{tag}")

    report = run(client, [ds], [{"kind": "sample_name", "sample_name": f"dup-{tag}",
                                 "create_missing": True}])
    (row,) = report.rows
    assert row.status == "unlinked" and "2 samples named" in row.reason
    assert a in row.reason and b in row.reason and "linked none" in row.reason
    assert linked(client, ds) == set()
    assert len(client.samples.list(project_id=project, sample_name=f"dup-{tag}",
                                   limit=None)) == 2  # nothing created either


def test_missing_name_without_create_missing_stays_unlinked(client, project, tag):
    ds = make_dataset(client, project, f"ds-{tag}")
    report = run(client, [ds], [{"kind": "sample_name", "sample_name": f"new-{tag}"}])
    assert report.rows[0].status == "unlinked"
    assert client.samples.list(project_id=project, sample_name=f"new-{tag}", limit=None) == []


def test_missing_name_with_create_missing_creates_one_sample_for_all(client, project, tag):
    d1 = make_dataset(client, project, f"d1-{tag}")
    d2 = make_dataset(client, project, f"d2-{tag}")
    rules = [{"kind": "sample_name", "sample_name": f"new-{tag}", "create_missing": True}]

    report = run(client, [d1, d2], rules)
    made = client.samples.list(project_id=project, sample_name=f"new-{tag}", limit=None)
    assert len(made) == 1
    sid = made[0]["unique_id"]
    assert report.created_samples == [sid]
    assert [r.status for r in report.rows] == ["created and linked", "linked"]
    assert linked(client, d1) == linked(client, d2) == {sid}

    again = run(client, [d1, d2], rules)
    assert [r.status for r in again.rows] == ["already linked", "already linked"]
    assert len(client.samples.list(project_id=project, sample_name=f"new-{tag}",
                                   limit=None)) == 1


# -- regex ----------------------------------------------------------------------------------


def test_regex_over_uploaded_file_names(client, project, tag, tmp_path):
    sid = make_sample(client, project, f"TF{tag}")
    ds = make_dataset(client, project, f"run-{tag}")
    for name in (f"TF{tag}_map.h5", f"TF{tag}_map.emi"):
        path = tmp_path / name
        path.write_bytes(name.encode())
        client.datasets.upload_file(ds, str(path), ingest=False)

    report = run(client, [ds], [{"kind": "regex", "pattern": r"^(?P<sample>TF[0-9a-f]+)_"}])
    assert [(r.sample_id, r.status, r.rule) for r in report.rows] == [(sid, "linked", "1:regex")]


def test_regex_files_naming_different_samples_link_none(client, project, tag, tmp_path):
    make_sample(client, project, f"X{tag}")
    make_sample(client, project, f"Y{tag}")
    ds = make_dataset(client, project, f"run-{tag}", file_to_upload=f"uploads/Y{tag}_a.h5")
    path = tmp_path / f"X{tag}_b.h5"
    path.write_bytes(b"x")
    client.datasets.upload_file(ds, str(path), ingest=False)

    report = run(client, [ds], [{"kind": "regex", "pattern": r"^([XY][0-9a-f]+)_"}])
    (row,) = report.rows
    assert row.status == "unlinked" and "name different samples" in row.reason
    assert f"X{tag}" in row.reason and f"Y{tag}" in row.reason
    assert linked(client, ds) == set()


def test_regex_over_dataset_name_capturing_an_id(client, project, tag):
    sid = make_sample(client, project, f"by-id-{tag}")
    ds = make_dataset(client, project, f"scan of {sid} at 300K")
    report = run(client, [ds], [{"kind": "regex", "pattern": r"scan of (\w{26})",
                                 "source": "dataset_name", "value": "id"}])
    assert (report.rows[0].sample_id, report.rows[0].status) == (sid, "linked")


# -- metadata -------------------------------------------------------------------------------


def test_metadata_path_holding_a_name_an_id_or_a_list(client, project, tag):
    a = make_sample(client, project, f"meta-a-{tag}")
    b = make_sample(client, project, f"meta-b-{tag}")
    by_name = make_dataset(client, project, f"n-{tag}",
                           metadata={"sample": {"name": f"meta-a-{tag}"}})
    by_id = make_dataset(client, project, f"i-{tag}", metadata={"sample": {"name": b}})
    by_list = make_dataset(client, project, f"l-{tag}",
                           metadata={"sample": {"name": [f"meta-a-{tag}", b]}})
    bad = make_dataset(client, project, f"x-{tag}", metadata={"sample": {"name": {"x": 1}}})
    rules = [{"kind": "metadata", "path": "sample.name"}]

    report = run(client, [by_name, by_id, by_list, bad], rules)
    assert linked(client, by_name) == {a}
    assert linked(client, by_id) == {b}
    assert linked(client, by_list) == {a, b}
    (bad_row,) = rows_of(report, bad)
    assert bad_row.status == "unlinked" and "holds dict" in bad_row.reason


# -- holder ---------------------------------------------------------------------------------


@pytest.fixture
def holder(client, project, tag):
    """A tray with children named out of order: positions S01..S03 = film-1, film-2, film-10."""
    tray = make_sample(client, project, f"Tray-{tag}")
    kids = {}
    for name in ("film-10", "film-1", "film-2"):
        kids[name] = make_sample(client, project, f"{name}-{tag}")
        client.samples.link(tray, kids[name])
    return tray, kids


def test_holder_positions_from_file_names_and_metadata(client, project, tag, holder):
    tray, kids = holder
    from_file = make_dataset(client, project, f"f-{tag}", file_to_upload=f"up/scan_S02_{tag}.h5")
    from_meta = make_dataset(client, project, f"m-{tag}", metadata={"stage": {"slot": "S03"}})
    beyond = make_dataset(client, project, f"b-{tag}", file_to_upload="up/scan_S09.h5")
    rules_file = [{"kind": "holder", "holder": f"Tray-{tag}"}]
    rules_meta = [{"kind": "holder", "holder": tray, "position_source": "metadata",
                   "position_path": "stage.slot"}]

    r1 = run(client, [from_file, beyond], rules_file)
    r2 = run(client, [from_meta], rules_meta)
    assert linked(client, from_file) == {kids["film-2"]}
    assert linked(client, from_meta) == {kids["film-10"]}  # natural order: 1, 2, 10
    (row,) = rows_of(r1, beyond)
    assert row.status == "unlinked" and "S09 is outside holder" in row.reason
    assert r2.rows[0].rule == "1:holder"


def test_holder_with_duplicate_child_names_links_none(client, project, tag):
    tray = make_sample(client, project, f"Tray-{tag}")
    for _ in range(2):
        client.samples.link(tray, make_sample(client, project, f"same-{tag}"))
    ds = make_dataset(client, project, f"d-{tag}", file_to_upload="up/S01.h5")
    report = run(client, [ds], [{"kind": "holder", "holder": tray}])
    assert report.rows[0].status == "unlinked" and "ambiguous" in report.rows[0].reason
    assert linked(client, ds) == set()


# -- unicode --------------------------------------------------------------------------------


def test_unicode_names_match_across_normalization_forms(client, project, tag):
    name = f"Échantillon-α-{tag}"
    sid = make_sample(client, project, name)
    ds = make_dataset(client, project, unicodedata.normalize("NFD", f"{name}_scan"))
    report = run(client, [ds], [{"kind": "regex", "pattern": r"^(.+)_scan$",
                                 "source": "dataset_name"}])
    assert (report.rows[0].sample_id, report.rows[0].status) == (sid, "linked")

    ds2 = make_dataset(client, project, f"d2-{tag}")
    created = run(client, [ds2], [{"kind": "sample_name", "sample_name": f"試料-{tag}",
                                   "create_missing": True}])
    (new,) = client.samples.list(project_id=project, sample_name=f"試料-{tag}", limit=None)
    assert created.created_samples == [new["unique_id"]]
    assert new["sample_name"] == f"試料-{tag}"


# -- visibility -----------------------------------------------------------------------------


def test_sample_in_unreadable_project_is_treated_as_missing(client, project, other, tag):
    other_client, other_project = other
    hidden = make_sample(other_client, other_project, f"hidden-{tag}")
    by_id = make_dataset(client, project, f"id-{tag}")
    by_meta = make_dataset(client, project, f"meta-{tag}", metadata={"sample": hidden})
    by_name = make_dataset(client, project, f"name-{tag}")

    ids = run(client, [by_id], [{"kind": "sample_ids", "sample_ids": [hidden]}])
    meta = run(client, [by_meta], [{"kind": "metadata", "path": "sample",
                                    "create_missing": True}])
    name = run(client, [by_name], [{"kind": "sample_name", "sample_name": f"hidden-{tag}"}])

    assert ids.rows[0].status == "unlinked" and NOT_READABLE in ids.rows[0].reason
    assert meta.rows[0].status == "unlinked" and "not creating one" in meta.rows[0].reason
    assert name.rows[0].status == "unlinked"
    assert f"in project {project}" in name.rows[0].reason
    for ds in (by_id, by_meta, by_name):
        assert linked(client, ds) == set()
    assert client.samples.list(project_id=project, sample_name=hidden, limit=None) == []


def test_unreadable_dataset_is_reported(client, other, tag):
    other_client, other_project = other
    theirs = make_dataset(other_client, other_project, f"theirs-{tag}")
    report = run(client, [theirs], [{"kind": "sample_name", "sample_name": "x"}])
    assert report.rows[0].status == "unlinked" and NOT_READABLE in report.rows[0].reason


def test_refused_writes_are_reported_as_failed(client, project, other, tag):
    """A public dataset of a project the key cannot write: creating and linking are refused."""
    other_client, other_project = other
    theirs = make_dataset(other_client, other_project, f"public-{tag}", public=True)
    mine = make_sample(client, project, f"mine-{tag}")
    created = run(client, [theirs], [{"kind": "sample_name", "sample_name": f"new-{tag}",
                                      "create_missing": True}])
    by_id = run(client, [theirs], [{"kind": "sample_ids", "sample_ids": [mine]}])
    assert created.rows[0].status == "failed"
    assert f"could not create sample 'new-{tag}' in project {other_project}" in \
        created.rows[0].reason
    assert by_id.rows[0].status == "failed" and "linking failed" in by_id.rows[0].reason
    assert created.failed == [theirs] and linked(other_client, theirs) == set()


# -- order, dry run -------------------------------------------------------------------------


def test_rules_tried_in_order_first_applying_rule_decides(client, project, tag):
    from_meta = make_sample(client, project, f"meta-{tag}")
    from_name = make_sample(client, project, f"fallback-{tag}")
    with_meta = make_dataset(client, project, f"a-{tag}", metadata={"s": f"meta-{tag}"})
    without = make_dataset(client, project, f"b-{tag}")
    missing = make_dataset(client, project, f"c-{tag}", metadata={"s": f"nobody-{tag}"})
    rules = [{"kind": "metadata", "path": "s", "value": "name"},
             {"kind": "sample_name", "sample_name": f"fallback-{tag}"}]

    report = run(client, [with_meta, without, missing], rules)
    assert linked(client, with_meta) == {from_meta}
    assert linked(client, without) == {from_name}
    # The metadata rule applied and failed: no silent fallback to the lower-priority rule.
    assert linked(client, missing) == set()
    assert [r.rule for r in report.rows] == ["1:metadata", "2:sample_name", "1:metadata"]

    nothing = run(client, [without], [{"kind": "metadata", "path": "s"}])
    assert nothing.rows[0].status == "unlinked"
    assert "no rule applied" in nothing.rows[0].reason


def test_dry_run_reports_plan_and_changes_nothing(client, project, tag):
    sid = make_sample(client, project, f"have-{tag}")
    d1 = make_dataset(client, project, f"d1-{tag}", metadata={"s": f"have-{tag}"})
    d2 = make_dataset(client, project, f"d2-{tag}", metadata={"s": f"want-{tag}"})
    d3 = make_dataset(client, project, f"d3-{tag}", metadata={"s": f"have-{tag}"})
    client.datasets.add_sample(d3, sid)
    rules = [{"kind": "metadata", "path": "s", "create_missing": True}]

    report = run(client, [d1, d2, d3], rules, dry_run=True)
    assert report.dry_run
    assert [r.status for r in report.rows] == ["would link", "would create and link",
                                               "already linked"]
    assert linked(client, d1) == set() and linked(client, d2) == set()
    assert client.samples.list(project_id=project, sample_name=f"want-{tag}", limit=None) == []


# -- queries --------------------------------------------------------------------------------


def test_query_criteria_are_rechecked_when_the_api_ignores_them(crucible_server, crucible_user,
                                                                gateway, tag):
    """Through a gateway that strips the filters from the query string (as an API that does not
    know them would ignore them), the catalog still returns only datasets matching every
    criterion."""
    from datetime import datetime, timedelta, timezone

    from crucible import CrucibleClient

    fresh = f"LNKR-{tag}"
    crucible_server.add_user(crucible_user.orcid, projects=[fresh])
    gateway.drop_params = {"project_id", "instrument_name", "creation_time_gte"}
    with CrucibleClient(gateway.api, crucible_user.api_key) as via_gateway:
        wanted = make_dataset(via_gateway, fresh, f"x-{tag}", instrument_name=f"XRD-{tag}")
        make_dataset(via_gateway, fresh, f"y-{tag}", instrument_name=f"TEM-{tag}")
        make_dataset(via_gateway, crucible_user.project_id, f"z-{tag}", instrument_name=f"XRD-{tag}")
        catalog = SampleCatalog(via_gateway)
        now = datetime.now(timezone.utc)
        found = catalog.find_datasets(project_id=fresh, instrument_name=f"XRD-{tag}",
                                      session_dataset_id=None, created_since=now - timedelta(hours=1))
        later = catalog.find_datasets(project_id=fresh, instrument_name=None,
                                      session_dataset_id=None, created_since=now + timedelta(hours=1))
    assert [d["unique_id"] for d in found] == [wanted]
    assert later == []
    listings = [q for m, p, q in gateway.seen if m == "GET" and p.endswith("/datasets")]
    assert listings and not any({"project_id", "instrument_name"} & set(q) for q in listings)


def test_a_sample_made_between_plan_and_apply_is_found_not_made_again(client, project, tag):
    """docs/linking.md: a sample to create is looked up again right before it is created, so a
    retried or concurrent run finds it instead of making a second one."""
    from crucible.linking import apply_plans, plan_datasets

    ds = make_dataset(client, project, f"late-{tag}")
    rules = [{"kind": "sample_name", "sample_name": f"late-{tag}", "create_missing": True}]
    plans = plan_datasets(SampleCatalog(client), [ds], rules)
    assert plans[0].samples[0].create  # planned: no such sample yet
    sid = make_sample(client, project, f"late-{tag}")  # another run made it meanwhile
    report = apply_plans(SampleCatalog(client), plans)
    assert [(r.status, r.sample_id) for r in report.rows] == [("linked", sid)]
    assert report.created_samples == []
    assert len(client.samples.list(project_id=project, sample_name=f"late-{tag}", limit=None)) == 1
    assert linked(client, ds) == {sid}
