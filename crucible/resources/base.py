"""Shared plumbing for the resource namespaces (``client.datasets``, ``client.samples``, ...)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Callable, Mapping
from urllib.parse import quote

from ..errors import NotFoundError
from ..pagination import DEFAULT_LIMIT, collect

if TYPE_CHECKING:  # pragma: no cover
    from ..client import CrucibleClient

__all__ = ["Namespace", "seg", "DEFAULT_LIMIT", "deprecated"]


def seg(value: Any) -> str:
    """One URL path segment (ids are quoted, so ``a/b`` cannot change the path)."""
    text = str(value)
    if not text:
        raise ValueError("empty id")
    return quote(text, safe="")


def deprecated(old: str, new: str) -> None:
    warnings.warn(f"{old} is deprecated; use {new}", DeprecationWarning, stacklevel=3)


class Namespace:
    """A group of related calls bound to one client."""

    def __init__(self, client: "CrucibleClient") -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"

    @property
    def _t(self):
        return self._client._transport

    def _get(self, path: str, **params: Any) -> Any:
        return self._t.request("GET", path, params=params)

    def _list(self, path: str, *, limit: int | None = DEFAULT_LIMIT,
              params: Mapping[str, Any] | None = None, send_limit: bool = True) -> list[Any]:
        return collect(self._t, path, params=params, limit=limit, send_limit=send_limit)

    def _create(self, path: str, body: Any, read_back: Callable[[], Any], *,
                params: Mapping[str, Any] | None = None) -> Any:
        """POST a create that carries a client-chosen id: retried safely, and a 409 on a retry
        returns the record the earlier (lost) attempt made."""
        return self._t.request("POST", path, json=body, params=params,
                               on_retry_conflict=read_back)

    def _delete(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        """DELETE, retried; a 404 on a retry means an earlier attempt already removed it."""
        def gone() -> dict[str, Any]:
            return {"detail": "already removed"}

        return self._t.request("DELETE", path, params=params, on_retry_conflict=gone,
                               conflict_error=NotFoundError)
