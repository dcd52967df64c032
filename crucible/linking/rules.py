"""Sample-link rules: small pydantic models, JSON-able, discriminated by ``kind``.

A rule list is tried in order for each dataset. The first rule that *applies* (finds an explicit id,
a name, a regex match, a metadata value or a holder position) decides the dataset's samples; if
that rule cannot resolve what it found (no such sample, several samples with the name, an
out-of-range position), the dataset stays unlinked with the reason — later rules are not used as a
fallback, so a lower-priority rule never silently wins over a failed higher-priority one.

Plain dicts such as ``{"kind": "regex", "pattern": "^(?P<sample>[^_]+)_"}`` are accepted wherever
a rule is expected, so rule lists travel through deployments, events and the ingest flow as JSON.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Iterable, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

NameSource = Literal["file_name", "dataset_name"]
"""Where a regex or holder rule reads text: the dataset's file names (base names), or its name."""

ValueKind = Literal["name_or_id", "name", "id"]
"""How a captured value is read: a sample name, a sample id, or an id when it has the shape of an
mfid and a readable sample has that id, otherwise a name."""

DEFAULT_POSITION_PATTERN = r"(?:^|[^A-Za-z0-9])[Ss](\d{1,3})(?![0-9])"
"""Finds a holder position such as ``S01`` or ``s7`` in ``scan_S01_map.h5``; group 1: the number."""


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _NamedRule(_Rule):
    create_missing: bool = Field(
        default=False,
        description="Create the sample in the dataset's project when no sample has the name.",
    )


class SampleIdsRule(_Rule):
    """Link every dataset to these sample ids (always applies).

    Example: ``{"kind": "sample_ids", "sample_ids": ["0swqzb3a1sthv000xd8kta0vrw"]}``
    """

    kind: Literal["sample_ids"] = "sample_ids"
    sample_ids: list[str] = Field(min_length=1, description="Sample unique ids to link.")

    @field_validator("sample_ids")
    @classmethod
    def _no_blank_ids(cls, ids: list[str]) -> list[str]:
        cleaned = [i.strip() for i in ids]
        if any(not i for i in cleaned):
            raise ValueError("sample_ids must not contain empty ids")
        return list(dict.fromkeys(cleaned))


class SampleNameRule(_NamedRule):
    """Link every dataset to the sample with this exact name in the dataset's project.

    Example: ``{"kind": "sample_name", "sample_name": "TF-042", "create_missing": true}``
    """

    kind: Literal["sample_name"] = "sample_name"
    sample_name: str = Field(min_length=1, description="Exact, case-sensitive sample name.")


class RegexRule(_NamedRule):
    """Capture a sample name or id from the dataset's file names or its dataset name.

    The capture is the named group ``sample`` when the pattern has one, else group 1. The pattern
    is searched (``re.search``) in each file's base name; all files must agree on one value.

    Example: ``{"kind": "regex", "pattern": "^(?P<sample>TF-\\\\d+)_", "source": "file_name"}``
    """

    kind: Literal["regex"] = "regex"
    pattern: str = Field(description="Python regular expression with a capturing group.")
    source: NameSource = Field(default="file_name", description="Text the pattern is applied to.")
    value: ValueKind = Field(default="name_or_id", description="How the captured text is read.")

    @field_validator("pattern")
    @classmethod
    def _compiles_with_group(cls, pattern: str) -> str:
        compiled = _compile(pattern, "pattern")
        if compiled.groups < 1:
            raise ValueError("pattern needs a capturing group, e.g. (?P<sample>...) or (...)")
        return pattern

    def compiled(self) -> re.Pattern[str]:
        """The compiled pattern."""
        return re.compile(self.pattern)

    def group(self) -> int | str:
        """The group holding the sample: ``sample`` when named so, else 1."""
        return "sample" if "sample" in self.compiled().groupindex else 1


class MetadataRule(_NamedRule):
    """Read a sample name or id from the dataset's scientific metadata at a dotted path.

    ``sample.name`` reads ``{"sample": {"name": ...}}``; a digit segment indexes a list
    (``samples.0``). A list of strings at the path links every sample in it.

    Example: ``{"kind": "metadata", "path": "sample.name"}``
    """

    kind: Literal["metadata"] = "metadata"
    path: str = Field(description="Dotted path into the scientific metadata.")
    value: ValueKind = Field(default="name_or_id", description="How the value is read.")

    @field_validator("path")
    @classmethod
    def _valid_path(cls, path: str) -> str:
        return _check_path(path)


class HolderRule(_Rule):
    """Map a holder sample's children, in name order, to positions S01, S02, …

    The position is read from the file names / dataset name (``position_pattern``, group 1 is the
    number) or from the metadata value at ``position_path`` (``"S03"``, ``"3"`` or ``3``). The
    holder is a sample id, or a sample name looked up in the dataset's project. Children are sorted
    by name with numbers compared by value (``film-2`` before ``film-10``); children with duplicate
    names make the order ambiguous, so the rule then links nothing.

    Example: ``{"kind": "holder", "holder": "Tray-7", "position_source": "file_name"}``
    """

    kind: Literal["holder"] = "holder"
    holder: str = Field(min_length=1, description="Holder sample id or exact name.")
    position_source: Literal["file_name", "dataset_name", "metadata"] = Field(
        default="file_name", description="Where the position is read."
    )
    position_pattern: str = Field(
        default=DEFAULT_POSITION_PATTERN,
        description="Regex whose group 1 is the position number (file or dataset names).",
    )
    position_path: str | None = Field(
        default=None, description="Dotted metadata path of the position (position_source=metadata)."
    )

    @field_validator("position_pattern")
    @classmethod
    def _pattern_has_group(cls, pattern: str) -> str:
        if _compile(pattern, "position_pattern").groups < 1:
            raise ValueError("position_pattern needs a capturing group for the position number")
        return pattern

    @field_validator("position_path")
    @classmethod
    def _valid_position_path(cls, path: str | None) -> str | None:
        return None if path is None else _check_path(path)

    @model_validator(mode="after")
    def _path_when_metadata(self) -> "HolderRule":
        if self.position_source == "metadata" and not self.position_path:
            raise ValueError("position_source 'metadata' needs position_path")
        return self


SampleRule = Annotated[
    Union[SampleIdsRule, SampleNameRule, RegexRule, MetadataRule, HolderRule],
    Field(discriminator="kind"),
]
"""Any one rule; the ``kind`` field picks the model."""

_RULES = TypeAdapter(list[SampleRule])


def parse_rules(rules: Iterable[Any] | None) -> list[Any]:
    """Validate a list of rule models or plain dicts; raise ``ValueError`` naming the bad rule."""
    if rules is None:
        return []
    if isinstance(rules, (dict, BaseModel, str, bytes)):
        raise ValueError("rules must be a list of rules, e.g. [{'kind': 'sample_name', ...}]")
    items = [r.model_dump() if isinstance(r, BaseModel) else r for r in rules]
    try:
        return _RULES.validate_python(items)
    except Exception as exc:  # pydantic.ValidationError: keep its per-field detail
        raise ValueError(f"invalid sample rules: {exc}") from exc


def rules_as_json(rules: Iterable[Any]) -> list[dict]:
    """The JSON form of a rule list (what a deployment parameter holds)."""
    return [r.model_dump(mode="json") for r in parse_rules(rules)]


def describe_rule(index: int, rule: Any) -> str:
    """A short label for reports: ``"2:regex"`` (1-based position in the list and kind)."""
    return f"{index + 1}:{rule.kind}"


def _compile(pattern: str, field: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{field} is not a valid regular expression: {exc}") from exc


def _check_path(path: str) -> str:
    parts = path.split(".")
    if not path or any(not p.strip() for p in parts):
        raise ValueError(f"dotted path {path!r} has an empty segment")
    return path
