"""Pure pieces of sample linking: rule models and text/metadata/position extraction (no server)."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest

from crucible.linking.extract import (
    RuleInputError,
    base_name,
    capture,
    get_path,
    looks_like_mfid,
    name_variants,
    natural_key,
    order_holder_children,
    position_from_value,
    position_label,
    positions_in,
    references,
    same_name,
)
from crucible.linking.models import DatasetQuery, LinkReport, LinkRow
from crucible.linking.rules import (
    DEFAULT_POSITION_PATTERN,
    HolderRule,
    MetadataRule,
    RegexRule,
    SampleIdsRule,
    SampleNameRule,
    describe_rule,
    parse_rules,
    rules_as_json,
)

ALL_KINDS = [
    {"kind": "sample_ids", "sample_ids": ["0swqzb3a1sthv000xd8kta0vrw"]},
    {"kind": "sample_name", "sample_name": "TF-042", "create_missing": True},
    {"kind": "regex", "pattern": r"^(?P<sample>TF-\d+)_", "source": "file_name"},
    {"kind": "metadata", "path": "sample.name", "value": "name"},
    {"kind": "holder", "holder": "Tray-7", "position_source": "metadata",
     "position_path": "stage.slot"},
]


def test_rules_parse_from_json_and_round_trip():
    rules = parse_rules(json.loads(json.dumps(ALL_KINDS)))
    assert [type(r) for r in rules] == [SampleIdsRule, SampleNameRule, RegexRule, MetadataRule,
                                        HolderRule]
    assert rules[1].create_missing is True and rules[2].create_missing is False
    again = rules_as_json(rules)
    assert parse_rules(again) == rules
    assert json.loads(json.dumps(again)) == again
    assert [describe_rule(i, r) for i, r in enumerate(rules)][2] == "3:regex"


def test_rules_accept_models_and_dicts_mixed():
    rules = parse_rules([SampleNameRule(sample_name="a"), {"kind": "sample_ids",
                                                           "sample_ids": [" x ", "x"]}])
    assert rules[1].sample_ids == ["x"]


@pytest.mark.parametrize("bad, words", [
    ({"kind": "nope"}, "kind"),
    ({"kind": "regex", "pattern": "TF-[0-9"}, "not a valid regular expression"),
    ({"kind": "regex", "pattern": "TF-\\d+"}, "capturing group"),
    ({"kind": "metadata", "path": "a..b"}, "empty segment"),
    ({"kind": "sample_ids", "sample_ids": []}, "sample_ids"),
    ({"kind": "sample_ids", "sample_ids": [""]}, "empty ids"),
    ({"kind": "holder", "holder": "T", "position_source": "metadata"}, "position_path"),
    ({"kind": "sample_name", "sample_name": "a", "typo": 1}, "typo"),
])
def test_bad_rules_give_clear_errors(bad, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        parse_rules([bad])


def test_rules_must_be_a_list():
    with pytest.raises(ValueError, match="list of rules"):
        parse_rules({"kind": "sample_name", "sample_name": "a"})
    assert parse_rules(None) == []


def test_regex_group_prefers_named_sample_group():
    assert RegexRule(pattern=r"(\d+)_(?P<sample>\w+)").group() == "sample"
    assert RegexRule(pattern=r"^(\w+?)_").group() == 1


def test_capture_distinct_values_over_names():
    pattern = re.compile(r"^(?P<sample>[^_]+)_")
    names = ["TF-1_a.h5", "TF-1_b.emi", "notes.txt", "TF-2_c.h5"]
    assert capture(pattern, "sample", names) == ["TF-1", "TF-2"]
    assert capture(pattern, "sample", ["nothing.txt"]) == []
    assert capture(re.compile(r"x(\d*)"), 1, ["x"]) == []  # empty capture ignored


def test_base_name_handles_both_separators():
    assert base_name("api-uploads/run 1/Échantillon_S03.h5") == "Échantillon_S03.h5"
    assert base_name("C:\\data\\a.tif") == "a.tif"
    assert base_name("plain.txt") == "plain.txt"


def test_dotted_paths_into_dicts_and_lists():
    meta = {"sample": {"name": "TF-1", "ids": ["a", "b"]}, "positions": [{"slot": "S02"}],
            "0": {"x": 1}}
    assert get_path(meta, "sample.name") == "TF-1"
    assert get_path(meta, "positions.0.slot") == "S02"
    assert get_path(meta, "0.x") == 1
    assert get_path(meta, "sample.missing") is None
    assert get_path(meta, "positions.5.slot") is None
    assert get_path(meta, "sample.name.deeper") is None
    assert get_path(None, "a") is None


def test_references_from_metadata_values():
    assert references("TF-1", "p") == ["TF-1"]
    assert references(["a", "b", "a", ""], "p") == ["a", "b"]
    assert references(42, "p") == ["42"]
    assert references(None, "p") == [] and references("  ", "p") == []
    with pytest.raises(RuleInputError, match="holds dict"):
        references({"name": "x"}, "p")
    with pytest.raises(RuleInputError, match="holds bool"):
        references(True, "p")


def test_positions_from_names_and_values():
    pattern = re.compile(DEFAULT_POSITION_PATTERN)
    assert positions_in(pattern, ["scan_S03_map.h5", "scan_S03.emi"]) == [3]
    assert positions_in(pattern, ["S1.h5", "x-s12.h5"]) == [1, 12]
    assert positions_in(pattern, ["BS03.h5", "S0345678.h5", "nothing"]) == []
    assert [position_from_value(v) for v in (3, "3", "S03", "s7", " S10 ", "X3", None, True,
                                             2.5)] == [3, 3, 3, 7, 10, None, None, None, None]
    assert position_label(1) == "S01" and position_label(12) == "S12" and \
        position_label(123) == "S123"


def test_holder_children_in_natural_name_order():
    children = [{"unique_id": i, "sample_name": n} for i, n in
                [("c", "film-10"), ("a", "film-2"), ("b", "film-1"), ("d", "Film-3")]]
    assert [c["sample_name"] for c in order_holder_children(children)] == \
        ["Film-3", "film-1", "film-2", "film-10"]
    assert natural_key("a2") < natural_key("a10")


def test_holder_children_with_duplicate_names_are_ambiguous():
    children = [{"unique_id": "a", "sample_name": "pos"}, {"unique_id": "b", "sample_name": "pos"}]
    with pytest.raises(RuleInputError, match="ambiguous"):
        order_holder_children(children)
    with pytest.raises(RuleInputError, match="no name"):
        order_holder_children([{"unique_id": "a", "sample_name": ""}])


def test_unicode_spellings_name_the_same_sample():
    nfc = "Échantillon-α"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd and same_name(nfc, nfd)
    assert set(name_variants(nfd)) == {nfc, nfd} and name_variants(nfd)[0] == nfd
    assert name_variants("plain") == ["plain"]
    assert not same_name("tf-1", "TF-1")  # case-sensitive


def test_mfid_shape():
    assert looks_like_mfid("0swqzb3a1sthv000xd8kta0vrw")
    assert not looks_like_mfid("TF-042")
    assert not looks_like_mfid("0swqzb3a1sthv000xd8kta0vrx")  # last char carries 3 bits only
    assert not looks_like_mfid("0SWQZB3A1STHV000XD8KTA0VRW")


def test_query_refuses_to_select_everything():
    with pytest.raises(ValueError, match="refusing"):
        DatasetQuery(created_since="2026-01-01T00:00:00Z")
    q = DatasetQuery(project_id="P", created_since="2026-01-01T00:00:00Z")
    assert q.created_since.tzinfo is not None


def test_report_summary():
    report = LinkReport(dry_run=False, rows=[
        LinkRow(dataset_id="d1", sample_id="s1", status="created and linked"),
        LinkRow(dataset_id="d2", sample_id="s1", status="linked"),
        LinkRow(dataset_id="d3", status="unlinked", reason="x"),
        LinkRow(dataset_id="d4", status="failed", reason="y"),
    ])
    assert report.summary() == {
        "dry_run": False, "counts": {"created and linked": 1, "linked": 1, "unlinked": 1,
                                     "failed": 1},
        "created_samples": ["s1"], "unlinked": ["d3"], "failed": ["d4"]}
