"""Read every page of a list endpoint, whatever its form (bare list, items/total, cursor).

Forms: a bare JSON array; an offset envelope ``{total, limit, offset, items}``; a keyset
envelope ``{items, next_cursor, total, limit}``. Pages are fetched one after another on the
caller's thread (no shared-session thread pool), duplicates that shift in under concurrent
inserts are dropped, and a result cut short by ``limit`` is logged, never silent.
"""

from __future__ import annotations

import logging
from typing import Any, Iterator, Mapping

from .errors import CrucibleError

__all__ = ["PAGE_MAX", "DEFAULT_LIMIT", "iter_items", "collect", "items_of"]

log = logging.getLogger("crucible.pagination")
PAGE_MAX = 1000
DEFAULT_LIMIT = 100


def items_of(body: Any) -> list[Any]:
    """The items of one response: a bare list or an envelope with ``items`` (None → [])."""
    if body is None:
        return []
    if isinstance(body, list):
        return body
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return body["items"]
    raise CrucibleError(f"expected a list or an envelope with 'items', got {type(body).__name__}")


def _identity(item: Any) -> Any:
    if isinstance(item, dict):
        for name in ("unique_id", "mfid", "id", "project_id"):
            if item.get(name) is not None:
                return (name, item[name])
    return None


def iter_items(
    transport: Any,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    limit: int | None = DEFAULT_LIMIT,
    page_size: int = PAGE_MAX,
    send_limit: bool = True,
) -> Iterator[Any]:
    """Yield up to ``limit`` items (``None``: all), following cursors and offsets."""
    if limit is not None and limit < 0:
        raise ValueError("limit must be >= 0 or None")
    if limit == 0:
        return
    base = {k: v for k, v in (params or {}).items() if v is not None}
    seen: set[Any] = set()
    count = 0
    offset = 0
    cursor: str | None = None
    while True:
        want = page_size if limit is None else min(page_size, limit - count)
        query = dict(base)
        if send_limit:
            query["limit"] = want
        if cursor is not None:
            query["cursor"] = cursor
        elif offset:
            query["offset"] = offset
        body = transport.request("GET", path, params=query)
        page = items_of(body)
        for item in page:
            key = _identity(item)
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
            if limit is not None and count >= limit:
                break
            count += 1
            yield item
        envelope = body if isinstance(body, dict) else {}
        total = envelope.get("total")
        more: bool
        if "next_cursor" in envelope:
            cursor = envelope.get("next_cursor")
            more = bool(cursor) and bool(page)
        elif isinstance(body, list):
            more = False
            if send_limit and len(page) >= want and (limit is None or count < limit):
                log.warning("GET %s returned a bare list of %d items (a full page) with no "
                            "way to ask for more; the result may be incomplete", path, len(page))
        else:
            offset += len(page)
            more = bool(page) and (total is None or offset < int(total))
            if total is None and len(page) < want:
                more = False
        if limit is not None and count >= limit:
            if more or (total is not None and int(total) > count):
                log.info("GET %s: returning the first %d of %s items (limit=%d; pass "
                         "limit=None for all)", path, count, total if total is not None
                         else "more", limit)
            return
        if not more:
            return


def collect(transport: Any, path: str, **kwargs: Any) -> list[Any]:
    """:func:`iter_items` as a list."""
    return list(iter_items(transport, path, **kwargs))
