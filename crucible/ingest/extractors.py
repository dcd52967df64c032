"""Pluggable scientific-metadata extractors.

An extractor is any callable ``extractor(group: FileGroup, fs) -> dict | None``. The flow takes
them by name: ``"json_sidecar"`` (built in) or an import path ``"package.module:function"`` (or
``"package.module.function"``). Names are resolved when the flow starts, so a typo fails the run
before anything is created. Results are deep-merged in order, after the static metadata.
"""

from __future__ import annotations

import importlib
import json
from typing import Any, Callable, Sequence

from .models import FileGroup

Extractor = Callable[[FileGroup, Any], "dict | None"]

#: A sidecar bigger than this is data, not metadata; it is uploaded but not parsed.
MAX_SIDECAR_BYTES = 4 * 1024 * 1024


class ExtractorError(ValueError):
    """An extractor name cannot be resolved to a callable."""


def json_sidecar(group: FileGroup, fs: Any) -> dict:
    """Merge every ``.json`` file of the group that holds a JSON object (in name order)."""
    merged: dict = {}
    for entry in group.files:
        if entry.suffix != ".json" or not entry.regular or entry.size > MAX_SIDECAR_BYTES:
            continue
        with fs.open(entry.path, "rb") as fh:
            text = fh.read().decode("utf-8-sig")
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"sidecar {entry.rel} is not valid JSON: {exc}") from None
        if isinstance(value, dict):
            deep_merge(merged, value)
    return merged


BUILTIN: dict[str, Extractor] = {"json_sidecar": json_sidecar}


def resolve(name: str) -> Extractor:
    """The extractor called ``name`` (built-in or import path); ExtractorError if there is none."""
    if name in BUILTIN:
        return BUILTIN[name]
    module_name, sep, attr = name.partition(":")
    if not sep:
        module_name, _, attr = name.rpartition(".")
    if not module_name or not attr:
        raise ExtractorError(f"extractor {name!r}: use a built-in ({', '.join(BUILTIN)}) "
                             "or 'package.module:function'")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ExtractorError(f"extractor {name!r} cannot be imported: {exc}") from exc
    if not callable(obj):
        raise ExtractorError(f"extractor {name!r} is not callable")
    return obj


def resolve_all(names: Sequence[str] | None) -> list[tuple[str, Extractor]]:
    """Resolve every name, failing on the first bad one."""
    return [(name, resolve(name)) for name in (names or [])]


def deep_merge(into: dict, other: dict) -> dict:
    """Merge ``other`` into ``into``: dicts recurse, everything else replaces (as the server does)."""
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_merge(into[key], value)
        else:
            into[key] = value
    return into


def extract(group: FileGroup, fs: Any, extractors: Sequence[tuple[str, Extractor]],
            static: dict | None = None) -> dict:
    """Static metadata, then each extractor's result, deep-merged; errors name the extractor."""
    merged = deep_merge({}, json.loads(json.dumps(static or {})))
    for name, fn in extractors:
        try:
            result = fn(group, fs)
        except Exception as exc:  # an extractor is user code: report, don't crash the run
            raise ValueError(f"extractor {name!r} failed on {group.key}: {exc}") from exc
        if result:
            if not isinstance(result, dict):
                raise ValueError(f"extractor {name!r} returned {type(result).__name__}, not a dict")
            deep_merge(merged, result)
    return merged
