"""Destination layout: render the path template and keep every path inside the destination.

Every name that reaches a destination path (dataset ids, project ids, relative paths stored on
the server) is untrusted: a client may have uploaded ``../x`` or ``/etc/x``. Instead of
"cleaning" such names (which could make two files collide), we reject them with
:class:`UnsafePathError`; the mirror then fails that one file and carries on with the rest.
"""

from __future__ import annotations

import re
import string
from typing import Mapping

from crucible.transfer.paths import UnsafePathError
from crucible.transfer.paths import safe_relative_path as _client_safe_relative_path

DEFAULT_TEMPLATE = "{project_id}/{dataset_id}/{relative_path}"
DEFAULT_RECORD_TEMPLATE = "{project_id}/{dataset_id}/record.json"
RESERVED_DIR = ".crucible-mirror"
PARTIAL_MARKER = ".crucible-partial-"
TEMPLATE_FIELDS = frozenset(
    {"project_id", "dataset_id", "dataset_name", "instrument_name", "relative_path",
     "filename", "file_id"}
)
# Only relative_path may span several directories; every other field must be one segment.
MULTI_SEGMENT_FIELDS = frozenset({"relative_path"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_template(template: str) -> None:
    """Raise ValueError unless ``template`` only uses known fields and names a file per record."""
    fields = set()
    for _, field, spec, conv in string.Formatter().parse(template):
        if field is None:
            continue
        if field not in TEMPLATE_FIELDS or spec or conv:
            raise ValueError(
                f"layout template field {{{field}}} is not supported; "
                f"use plain fields from {sorted(TEMPLATE_FIELDS)}"
            )
        fields.add(field)
    if template.startswith("/") or ".." in template.split("/"):
        raise ValueError(f"layout template must be relative and stay inside the destination: {template!r}")


def safe_relative_path(value: str, *, what: str = "path", multi_segment: bool = True) -> str:
    """Return ``value`` as a normalised relative POSIX path, or raise :class:`UnsafePathError`.

    The client's check (``crucible.transfer.paths``) rejects empty names, absolute paths, drive
    letters and ``..``; on top we reject backslashes, control characters, URLs and our own
    reserved names (the manifest directory, partial files). ``.`` and empty segments are dropped.
    """
    if not isinstance(value, str) or not value:
        raise UnsafePathError(f"{what} is empty")
    if _CONTROL.search(value):
        raise UnsafePathError(f"{what} {value!r} contains control characters")
    if "\\" in value:  # a separator on Windows, a plain character on object stores: refuse
        raise UnsafePathError(f"{what} {value!r} contains a backslash")
    if "://" in value:
        raise UnsafePathError(f"{what} {value!r} is a URL, not a relative path")
    try:
        parts = _client_safe_relative_path(value).split("/")  # absolute, "..", NUL, empty
    except UnsafePathError as exc:
        raise UnsafePathError(f"{what}: {exc}") from None
    if not multi_segment and len(parts) != 1:
        raise UnsafePathError(f"{what} {value!r} must be a single path segment")
    if parts[0] == RESERVED_DIR or any(PARTIAL_MARKER in p for p in parts):
        raise UnsafePathError(f"{what} {value!r} uses a name reserved by the mirror")
    return "/".join(parts)


def template_fields(template: str) -> set[str]:
    """The field names a template uses."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def render(template: str, fields: Mapping[str, object]) -> str:
    """Fill ``template`` with checked field values; the result is a safe relative path.

    Only the fields the template uses are checked (and must have a value).
    """
    values = {}
    for name in template_fields(template):
        raw = fields.get(name)
        if raw is None or raw == "":
            raise UnsafePathError(f"layout field {{{name}}} has no value for this file")
        values[name] = safe_relative_path(
            str(raw), what=name, multi_segment=name in MULTI_SEGMENT_FIELDS
        )
    return safe_relative_path(template.format_map(values), what="rendered path")


def join(root: str, relative: str) -> str:
    """Join a destination root and a checked relative path."""
    return f"{root.rstrip('/')}/{relative}" if root else relative
