"""Reading the inputs of ``crucible ingest|mirror|link``: options, JSON, rules files.

Every problem becomes :class:`BadInput` with a one-line message naming the option (exit 2).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence


class BadInput(Exception):
    """The command's input is unusable: one-line message, exit status 2."""


#: Settings fields → the option that sets them (for validation messages).
OPTION_NAMES = {
    "path": "PATH", "instrument_name": "--instrument", "project_id": "--project",
    "owner_orcid": "--owner-orcid", "mode": "--mode", "include": "--include",
    "exclude": "--exclude", "grouping": "--grouping", "run_name": "--run-name",
    "sample_ids": "--sample-id", "keywords": "--keyword", "scientific_metadata": "--metadata",
    "extractors": "--extractor", "ingestor": "--ingestor", "post_processing": "--post-processing",
    "settle_seconds": "--settle-seconds", "max_concurrency": "--max-concurrency",
    "storage_options": "--storage-option", "rules": "--rules", "sample_rules": "--sample-rules",
    "dataset_ids": "--dataset",
    "session_dataset_id": "--session-dataset", "created_since": "--created-since",
    "instrument": "--instrument",
}


def validation_text(exc: Any) -> str:
    """A pydantic ValidationError as one line naming the options."""
    parts = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ())]
        if loc and loc[0] == "query":
            loc = loc[1:]
        where = OPTION_NAMES.get(loc[0], ".".join(loc)) if loc else ""
        if len(loc) > 1:
            where = f"{where}[{'.'.join(loc[1:])}]"
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "invalid input: " + "; ".join(parts)


# ---------------------------------------------------------------------------------- input
def json_object(text: str | None, option: str) -> dict | None:
    if text is None:
        return None
    source = option
    if text.startswith("@"):
        source = text[1:]
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise BadInput(f"{option}: cannot read {source}: {exc.strerror or exc}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{option} is not valid JSON ({source}): {exc}") from None
    if not isinstance(value, dict):
        raise BadInput(f"{option} must be a JSON object, got {type(value).__name__}")
    return value


def storage_options(items: Sequence[str] | None) -> dict[str, Any] | None:
    if not items:
        return None
    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            # never echo the item: it may be a secret typed without its key
            raise BadInput("--storage-option must be KEY=VALUE (one was given without a KEY=)")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        options[key.strip()] = value
    return options


def is_local(path: str) -> bool:
    return "://" not in path and "::" not in path


def load_rules(path: str) -> list[Any]:
    """The rules in a JSON or YAML file (``-``: stdin), parsed; :class:`BadInput` if unusable.

    The file holds a list of rules, or an object with a ``rules`` list.
    """
    from .linking import parse_rules

    name = "stdin" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise BadInput(f"cannot read rules file {name}: {reason}") from None
    data = _parse_rules_text(text, name, Path(path).suffix.lower())
    if isinstance(data, dict) and "rules" in data:
        data = data["rules"]
    if not isinstance(data, list):
        raise BadInput(f"rules file {name} must hold a list of rules (or an object with a "
                       f"'rules' list), got {type(data).__name__}")
    if not data:
        raise BadInput(f"rules file {name} holds no rules")
    try:
        return parse_rules(data)
    except ValueError as exc:
        raise BadInput(f"rules file {name}: {_rules_error_text(exc)}") from None


def rules_json(path: str | None, option: str) -> list[dict] | None:
    """The rules of ``path`` as JSON-able dicts (what ``IngestSettings.sample_rules`` holds)."""
    if path is None:
        return None
    from .linking import rules_as_json

    try:
        return rules_as_json(load_rules(path))
    except BadInput as exc:
        raise BadInput(f"{option}: {exc}") from None


def _parse_rules_text(text: str, name: str, suffix: str) -> Any:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        yaml = None
    if suffix in (".yaml", ".yml"):
        if yaml is None:
            raise BadInput(f"rules file {name} is YAML but PyYAML is not installed: "
                           "pip install pyyaml, or write the rules as JSON")
        return _yaml_load(yaml, text, name)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if suffix == ".json" or yaml is None:
            hint = "" if suffix == ".json" else " (YAML needs PyYAML: pip install pyyaml)"
            raise BadInput(f"rules file {name} is not valid JSON: {exc}{hint}") from None
    return _yaml_load(yaml, text, name)


def _yaml_load(yaml: Any, text: str, name: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BadInput(f"rules file {name} is not valid JSON or YAML: {exc}") from None


def _rules_error_text(exc: ValueError) -> str:
    from pydantic import ValidationError

    cause = exc.__cause__
    if not isinstance(cause, ValidationError):
        return str(exc)
    parts = []
    for err in cause.errors():
        loc = [str(x) for x in err.get("loc", ())]
        where = f"rule {int(loc[0]) + 1}" if loc and loc[0].isdigit() else "rules"
        if len(loc) > 2:  # index, kind tag, field...
            where += f" ({loc[1]}) {'.'.join(loc[2:])}"
        elif len(loc) == 2:
            where += f" ({loc[1]})"
        parts.append(f"{where}: {str(err.get('msg', '')).removeprefix('Value error, ')}")
    return "invalid rules: " + "; ".join(parts)


# ---------------------------------------------------------------------------------- commands
