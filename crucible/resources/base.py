"""Shared plumbing for the resource namespaces (``client.datasets``, ``client.samples``, ...)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Callable, Mapping
from urllib.parse import quote

from ..errors import ConflictError, NotFoundError
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
        return self._client.transport

    def _get(self, path: str, **params: Any) -> Any:
        return self._t.request("GET", path, params=params)

    def _list(self, path: str, *, limit: int | None = DEFAULT_LIMIT,
              params: Mapping[str, Any] | None = None, send_limit: bool = True) -> list[Any]:
        return collect(self._t, path, params=params, limit=limit, send_limit=send_limit)

    def _whole_list(self, path: str, *, limit: int | None = None) -> list[Any]:
        """An endpoint that answers its whole list in every era, with no paging and no ``limit``
        parameter (a dataset's files, keywords and thumbnails; a user's datasets and groups):
        nothing is sent but the request, ``limit`` only cuts the answer here, and a long list
        is not taken for a page that may have been cut short."""
        return self._list(path, limit=limit, send_limit=False)

    def _create(self, path: str, body: Any, read_back: Callable[[], Any], *,
                params: Mapping[str, Any] | None = None) -> Any:
        """POST a create that carries a client-chosen id: retried safely, and a 409 on a retry
        returns the record the earlier (lost) attempt made."""
        return self._t.request("POST", path, json=body, params=params,
                               on_retry_conflict=read_back)

    def create_once(self, record: Mapping[str, Any], *,
                    same: tuple[str, ...] = ()) -> tuple[dict[str, Any], bool]:
        """Create ``record`` under its ``unique_id``, or return the resource that already has
        that id: ``(record, created)``. The one create-once of this repository.

        The id is the caller's (derived from what the record *is*), so a retry, a lost answer
        or a re-run meets a 409 and gets the existing record back instead of a duplicate. If
        the existing record differs in one of the ``same`` fields, the id clashes with
        something else: ``ConflictError``.
        """
        uid = record.get("unique_id")
        if not uid:
            raise ValueError("create_once needs a unique_id in the record")
        try:
            return self._create_record(dict(record)), True
        except ConflictError:
            existing = self._read_existing(uid)
            clash = [f for f in same if record.get(f) is not None and existing.get(f) != record[f]]
            if clash:
                raise ConflictError("POST", f"/{type(self).__name__.lower()}", 409,
                                    f"{uid} exists already with other {', '.join(clash)}") from None
            return existing, False

    def _read_existing(self, uid: str) -> dict[str, Any]:
        """The record ``create_once`` returns when the id exists already."""
        return self.get(uid)  # type: ignore[attr-defined]

    def _create_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """Create one resource from a plain record; each creatable namespace says how."""
        raise NotImplementedError(f"{type(self).__name__} cannot create records")

    def _delete(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        """DELETE, retried; a 404 on a retry means an earlier attempt already removed it."""
        def gone() -> dict[str, Any]:
            return {"detail": "already removed"}

        return self._t.request("DELETE", path, params=params, on_retry_conflict=gone,
                               conflict_error=NotFoundError)
