"""``client.instruments`` (seed 2.1 names)."""

from __future__ import annotations

import builtins
from typing import Any

from ..errors import ConflictError, CrucibleError, NotFoundError
from ..models import Instrument, as_payload
from .base import DEFAULT_LIMIT, Namespace, seg

__all__ = ["Instruments"]


class Instruments(Namespace):
    def list(self, limit: int | None = DEFAULT_LIMIT, **filters: Any) -> list[dict[str, Any]]:
        return self._list("instruments", limit=limit, params=filters)

    def search(self, q: str, limit: int = 20) -> builtins.list[dict]:
        return self._list("instruments/search", limit=limit, params={"q": q})

    def get(self, instrument_name: str | None = None,
            instrument_id: str | None = None) -> dict[str, Any] | None:
        """By id (``NotFoundError`` if unknown) or by exact name (``None`` if no match; an
        ambiguous name raises instead of picking one)."""
        if instrument_id:
            return self._get(f"instruments/{seg(instrument_id)}")
        if not instrument_name:
            raise ValueError("instruments.get needs instrument_name or instrument_id")
        rows = self._list("instruments", limit=None, params={"instrument_name": instrument_name})
        rows = [r for r in rows if r.get("instrument_name") == instrument_name]
        if len(rows) > 1:
            raise CrucibleError(f"{len(rows)} instruments are named {instrument_name!r}; "
                                f"use instrument_id")
        return rows[0] if rows else None

    def create(self, instrument: Instrument | dict) -> dict[str, Any]:
        """Admin: create an instrument. Names are unique on the server, so a 409 on a retry
        (an earlier attempt landed) reads the instrument back by name."""
        body = as_payload(instrument, Instrument)
        if not body.get("instrument_name"):
            raise ValueError("instruments.create needs instrument_name")

        def read_back() -> dict[str, Any]:
            found = self.get(instrument_name=body["instrument_name"])
            if found is None:
                raise NotFoundError("GET", "/instruments", 404, body["instrument_name"])
            return found

        return self._create("instruments", body, read_back)

    def update(self, unique_id: str, **fields: Any) -> dict[str, Any]:
        return self._t.request("PATCH", f"instruments/{seg(unique_id)}", json=fields, safe=True)

    def get_or_create(self, instrument_name: str, location: str | None = None,
                      instrument_owner: str | None = None, **fields: Any) -> dict[str, Any]:
        """The instrument with this name, created when missing."""
        found = self.get(instrument_name=instrument_name)
        if found:
            return found
        try:
            return self.create({"instrument_name": instrument_name, "location": location,
                                "owner": instrument_owner, **fields})
        except ConflictError:
            found = self.get(instrument_name=instrument_name)
            if found is None:
                raise NotFoundError("GET", "/instruments", 404, instrument_name) from None
            return found
