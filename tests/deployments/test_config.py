"""The instruments file: the example loads, and every mistake names its entry and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crucible_prefect.watch.config import ConfigError, load_config, parse_config

EXAMPLE = Path(__file__).resolve().parents[2] / "deployments" / "instruments.yaml"


def _entry(**over):
    base = {"name": "tem-01", "watch_folder": "/data/tem", "project_id": "P1"}
    base.update(over)
    return base


def _problems(raw) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, "inst.yaml")
    return str(info.value)


def test_example_file_loads_with_typed_settings():
    config = load_config(EXAMPLE)
    tem = config.instrument("tem-01")
    assert tem.finished.sentinel == ".done"
    assert tem.resolved_settle_seconds() == 0.0
    xrd = config.instrument("xrd-02")
    assert xrd.runs == "files" and xrd.finished.quiet_seconds == 120
    assert xrd.resolved_settle_seconds() == 60


def test_unknown_field_names_entry_and_field():
    msg = _problems({"instruments": [_entry(), _entry(name="xrd-02", quiet_secnds=3)]})
    assert "instruments[1] 'xrd-02': quiet_secnds: unknown field" in msg


def test_nested_field_error_names_the_path():
    msg = _problems({"instruments": [_entry(finished={"quiet_seconds": -1})]})
    assert "instruments[0] 'tem-01': finished.quiet_seconds:" in msg
    assert "greater than 0" in msg


def test_every_problem_is_listed():
    msg = _problems({"instruments": [_entry(mode="sessions", grouping="by-stem", max_concurrency=0)]})
    assert "3 problem(s)" in msg
    for field in ("mode", "grouping", "max_concurrency"):
        assert f"instruments[0] 'tem-01': {field}:" in msg


def test_missing_required_field_and_entry_without_name():
    msg = _problems({"instruments": [{"watch_folder": "/x"}]})
    assert "instruments[0]: name: Field required" in msg
    assert "instruments[0]: project_id: Field required" in msg


def test_duplicate_names_are_rejected():
    msg = _problems({"instruments": [_entry(), _entry()]})
    assert "instruments[1] 'tem-01': name: duplicate of instruments[0]" in msg


def test_settle_longer_than_quiet_period_is_rejected():
    msg = _problems({"instruments": [_entry(finished={"quiet_seconds": 10}, settle_seconds=30)]})
    assert "instruments[0] 'tem-01'" in msg and "settle_seconds (30) must not exceed" in msg


def test_bad_regex_grouping_and_bad_name_and_sentinel():
    msg = _problems({"instruments": [_entry(name="tem 01", grouping="regex:(", finished={"sentinel": "a/b"})]})
    assert "name: use letters" in msg
    assert "grouping: bad regex" in msg
    assert "finished.sentinel: must be a plain file name" in msg


def test_empty_or_non_mapping_file(tmp_path):
    assert "instruments: List should have at least 1 item" in _problems({"instruments": []})
    assert "expected a mapping" in _problems(["a"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("instruments: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read instruments file"):
        load_config(tmp_path / "missing.yaml")


def test_unknown_instrument_lists_known_ones():
    config = load_config(EXAMPLE)
    with pytest.raises(ConfigError, match="unknown instrument 'nope'.*tem-01, xrd-02"):
        config.instrument("nope")


def test_flow_parameters_translate_path_for_workers(tmp_path):
    config = parse_config(yaml.safe_load(f"""
instruments:
  - name: tem-01
    watch_folder: {tmp_path}
    project_id: P1
    worker_folder: sftp://pc/data/
"""))
    params = config.instruments[0].flow_parameters(str(tmp_path / "session 1"))
    assert params["path"] == "sftp://pc/data/session 1"
    assert params["instrument_name"] == "tem-01"
    assert params["settle_seconds"] == 60.0  # quiet-period default
    with pytest.raises(ValueError, match="not inside watch_folder"):
        config.instruments[0].flow_parameters(str(tmp_path.parent / "elsewhere"))


def test_schema_matches_the_ingest_flow_signature():
    """Every parameter we send exists on the flow, and our defaults are the flow's defaults."""
    import inspect

    flow_mod = pytest.importorskip("crucible_prefect.flows.ingest")
    sig = inspect.signature(flow_mod.ingest_instrument_output.fn)
    params = parse_config({"instruments": [_entry()]}).instruments[0].flow_parameters("/data/tem/r1")
    unknown = set(params) - set(sig.parameters)
    assert not unknown, f"parameters the flow does not take: {unknown}"
    for name, value in params.items():
        default = sig.parameters[name].default
        if name in ("path", "instrument_name", "settle_seconds") or default is inspect.Parameter.empty:
            continue
        assert value == default, f"{name}: schema default {value!r} != flow default {default!r}"


def test_secrets_in_storage_options_are_refused():
    msg = _problems({"instruments": [_entry(storage_options={"host": "pc", "password": "x"})]})
    assert "instruments[0] 'tem-01': storage_options: 'password' looks like a secret" in msg
    assert "storage_secret" in msg
    ok = parse_config({"instruments": [_entry(storage_options={"host": "pc"}, storage_secret="tem-share")]})
    assert ok.instruments[0].flow_parameters("/data/tem/r")["storage_secret"] == "tem-share"


@pytest.mark.parametrize("options, paths", [
    ({"account_key": "k"}, "'account_key'"),
    ({"connection_string": "DefaultEndpointsProtocol=https;AccountKey=k"}, "'connection_string'"),
    ({"client_kwargs": {"aws_secret_access_key": "s", "region_name": "x"}},
     "'client_kwargs.aws_secret_access_key'"),
    ({"key": "AKIA", "secret": "s"}, "'key', 'secret'"),
    ({"hosts": [{"name": "pc", "key_filename": "/k"}]}, "'hosts[0].key_filename'"),
])
def test_nested_and_backend_secret_names_are_refused(options, paths):
    """Common backend names (adlfs, s3fs, ssh) and nested ones never reach a payload or ledger."""
    msg = _problems({"instruments": [_entry(storage_options=options)]})
    assert f"instruments[0] 'tem-01': storage_options: {paths} look" in msg
    assert "storage_secret" in msg


def test_a_password_in_the_worker_folder_url_is_refused():
    msg = _problems({"instruments": [_entry(worker_folder="sftp://u:pw@pc/data")]})
    assert "worker_folder: holds a password" in msg
    assert "pw" not in msg.replace("password", "")
