"""deployments/prefect.yaml agrees with the flows and with the event the watcher sends."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import yaml

from crucible_prefect.watch.config import parse_config
from crucible_prefect.watch.events import EVENT_NAME, RESOURCE_PREFIX

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "deployments" / "prefect.yaml").read_text())


def _deployment(name: str) -> dict:
    [dep] = [d for d in SPEC["deployments"] if d["name"] == name]
    return dep


def _flow(entrypoint: str):
    module, _, attr = entrypoint.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def test_every_entrypoint_is_an_importable_flow_on_the_process_pool():
    for dep in SPEC["deployments"]:
        flow = _flow(dep["entrypoint"])
        assert hasattr(flow, "fn"), dep["name"]
        assert dep["work_pool"]["name"] == "crucible-process"
        assert "crucible" in dep["tags"]
    assert SPEC["pull"] == []  # module-path entrypoints: code comes from the installed package


def test_ingest_trigger_maps_every_event_parameter_to_the_flow():
    dep = _deployment("ingest-on-run-finished")
    [trigger] = dep["triggers"]
    assert trigger["expect"] == [EVENT_NAME]
    assert trigger["match"]["prefect.resource.id"] == RESOURCE_PREFIX + "*"
    params = trigger["parameters"]
    sent = parse_config({"instruments": [{"name": "x", "watch_folder": "/d", "project_id": "P"}]}) \
        .instruments[0].flow_parameters("/d/r")
    assert set(params) == set(sent)  # every key the watcher sends is used, nothing else
    flow_params = inspect.signature(_flow(dep["entrypoint"]).fn).parameters
    for name, template in params.items():
        assert name in flow_params, name
        # a single expression (keeps the JSON type) reading the same key from the payload
        assert re.fullmatch(r"\{\{ \(?event\.payload\.parameters\.(\w+)[^{}]*\}\}", template), template
        assert f"event.payload.parameters.{name}" in template


def test_mirror_has_a_schedule_and_limits_exist():
    mirror = _deployment("mirror")
    assert mirror["schedules"] and mirror["schedules"][0]["cron"]
    assert set(mirror["parameters"]) <= set(inspect.signature(_flow(mirror["entrypoint"]).fn).parameters)
    assert _deployment("ingest-on-run-finished")["concurrency_limit"]["collision_strategy"] == "ENQUEUE"


def test_deployment_limits_tags_and_pool_are_what_the_docs_say():
    """docs/deployments.md: at most 4 ingest runs, 2 link runs and 1 mirror run at a time (more
    wait in line), every deployment on the crucible-process pool with the tag crucible."""
    def limit(name: str) -> tuple[int, str | None]:
        value = _deployment(name)["concurrency_limit"]
        return (value["limit"], value.get("collision_strategy")) if isinstance(value, dict) else (value, None)

    assert limit("ingest-on-run-finished") == (4, "ENQUEUE")
    assert limit("link-on-demand")[0] == 2
    assert limit("mirror") == (1, "ENQUEUE")
    for name in ("ingest-on-run-finished", "link-on-demand", "mirror", "ingest-dask", "mirror-dask"):
        dep = _deployment(name)
        assert "crucible" in dep["tags"], name
        assert dep["work_pool"]["name"] == "crucible-process", name
