"""Pure helpers behind the rules: text capture, dotted paths, holder positions, name order.

Nothing here talks to Crucible, so every piece is unit-tested on its own.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterable, Sequence

from crucible.mfid import is_mfid

_MISSING = object()


class RuleInputError(ValueError):
    """The dataset's data cannot be read the way a rule expects (message is user-facing)."""


def looks_like_mfid(text: str) -> bool:
    """True when ``text`` has the shape of a Crucible mfid (``crucible.mfid.is_mfid``)."""
    return is_mfid(text)


def base_name(path: str) -> str:
    """The last segment of a stored path (``api-uploads/a/b.h5`` → ``b.h5``), ``/`` or ``\\``."""
    return re.split(r"[\\/]", path.rstrip("/\\"))[-1]


def name_variants(name: str) -> list[str]:
    """``name`` plus its NFC and NFD spellings, without duplicates, ``name`` first.

    Text from file systems (macOS writes NFD) and from forms (usually NFC) can spell the same
    accented name with different code points; both spellings name the same sample.
    """
    return list(dict.fromkeys([name, unicodedata.normalize("NFC", name),
                               unicodedata.normalize("NFD", name)]))


def same_name(a: str, b: str) -> bool:
    """Exact, case-sensitive comparison after Unicode normalization."""
    return unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b)


def capture(pattern: re.Pattern[str], group: int | str, texts: Iterable[str]) -> list[str]:
    """Distinct non-empty captures of ``group`` over ``texts`` (``re.search``), first seen first."""
    found: list[str] = []
    for text in texts:
        match = pattern.search(text)
        if match is None:
            continue
        value = match.group(group)
        if value is not None and value.strip() and value.strip() not in found:
            found.append(value.strip())
    return found


def get_path(data: Any, path: str) -> Any:
    """The value at a dotted path (``a.b.0``), or ``None`` when any segment is absent.

    A segment is a dict key; on a list, a digit segment is an index.
    """
    current = data
    for segment in path.split("."):
        if isinstance(current, dict):
            current = current.get(segment, _MISSING)
        elif isinstance(current, list) and segment.isdigit() and int(segment) < len(current):
            current = current[int(segment)]
        else:
            return None
        if current is _MISSING:
            return None
    return current


def references(value: Any, path: str) -> list[str]:
    """Sample references held by a metadata value: a string, a number, or a list of those.

    Empty strings and ``None`` mean "nothing here" (``[]``); dicts and other shapes are an error.
    """
    items = value if isinstance(value, list) else [value]
    refs: list[str] = []
    for item in items:
        if item is None or (isinstance(item, str) and not item.strip()):
            continue
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise RuleInputError(
                f"metadata at {path!r} holds {type(item).__name__}, not a sample name or id")
        text = str(item).strip()
        if text not in refs:
            refs.append(text)
    return refs


def position_from_value(value: Any) -> int | None:
    """A holder position from a metadata value: ``3``, ``"3"``, ``"S03"``, ``"s3"``; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"\s*[Ss]?0*(\d+)\s*", value)
        if match:
            return int(match.group(1))
    return None


def positions_in(pattern: re.Pattern[str], texts: Iterable[str]) -> list[int]:
    """Distinct positions (group 1 as a number) found in ``texts``, first-seen order."""
    return list(dict.fromkeys(int(v) for v in capture(pattern, 1, texts) if v.isdigit()))


def position_label(number: int) -> str:
    """The slot label of a 1-based position: 1 → ``S01``, 12 → ``S12``, 123 → ``S123``."""
    return f"S{number:02d}"


def natural_key(name: str) -> tuple:
    """Sort key comparing digit runs by value: ``film-2`` < ``film-10``; then the raw text."""
    text = unicodedata.normalize("NFC", name)
    parts = re.split(r"(\d+)", text)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p), text


def order_holder_children(children: Sequence[dict]) -> list[dict]:
    """Children in position order (natural name order).

    Raises ``RuleInputError`` when two children share a name, because their relative positions
    would then be a guess.
    """
    seen: dict[str, str] = {}
    for child in children:
        name = unicodedata.normalize("NFC", child.get("sample_name") or "")
        if not name:
            raise RuleInputError(
                f"holder child {child.get('unique_id')} has no name, so its position is unknown")
        if name in seen:
            raise RuleInputError(
                f"holder children {seen[name]} and {child.get('unique_id')} are both named "
                f"{name!r}, so their positions are ambiguous")
        seen[name] = str(child.get("unique_id"))
    return sorted(children, key=lambda c: natural_key(c["sample_name"]))
