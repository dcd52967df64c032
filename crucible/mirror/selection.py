"""What to mirror: resolve a query to dataset ids, and describe each dataset's files.

All Crucible calls of the mirror live here, behind :class:`CrucibleSource`, so the rest of the
package works on plain records (and unit tests can feed it any source with the same methods).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Protocol


@dataclass(frozen=True)
class Query:
    """A selection of datasets: ``dataset_ids`` plus whatever the criteria match (AND-ed)."""

    dataset_ids: tuple[str, ...] = ()
    project_id: str | None = None
    sample_id: str | None = None
    include_descendants: bool = False
    keyword: str | None = None
    instrument_name: str | None = None
    created_since: datetime | str | None = None

    def is_empty(self) -> bool:
        return not (self.dataset_ids or self.project_id or self.sample_id or self.keyword
                    or self.instrument_name or self.created_since)


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset as Crucible records it (all strings untrusted)."""

    dataset_id: str
    file_id: str
    relative_path: str | None
    filename: str | None
    size: int | None
    sha256: str | None
    ingested: bool
    path_error: str | None = None  # why relative_path is unusable (hostile or missing)


class Source(Protocol):
    def dataset(self, dataset_id: str) -> dict: ...
    def files(self, dataset_id: str) -> list[RemoteFile]: ...
    def download_links(self, dataset_id: str) -> dict[str, str]: ...
    def file_link(self, file_id: str) -> str: ...
    def select(self, query: Query) -> list[str]: ...


class CrucibleSource:
    """:class:`Source` over a :class:`crucible.CrucibleClient`."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def dataset(self, dataset_id: str) -> dict:
        record = self.client.datasets.get(dataset_id, include_metadata=True)
        if not record:
            raise LookupError(f"dataset {dataset_id} not found or not readable")
        return _plain(record)

    def files(self, dataset_id: str) -> list[RemoteFile]:
        from crucible.transfer import dataset_relative_path
        from crucible.transfer.paths import UnsafePathError

        rows = [_plain(r) for r in self.client.files.list(dataset_id=dataset_id, limit=None)]
        out = []
        for row in rows:
            try:
                relative, error = dataset_relative_path(dataset_id, row), None
            except UnsafePathError as exc:
                relative, error = None, str(exc)
            out.append(RemoteFile(
                dataset_id=dataset_id,
                file_id=str(row.get("mfid") or row.get("id") or ""),
                relative_path=relative,
                path_error=error,
                filename=row.get("filename"),
                size=int(row["size"]) if row.get("size") is not None else None,
                sha256=(row.get("sha256_hash") or None),
                ingested=bool(row.get("storage_path")),
            ))
        return out

    def download_links(self, dataset_id: str) -> dict[str, str]:
        return dict(self.client.datasets.get_download_links(dataset_id) or {})

    def file_link(self, file_id: str) -> str:
        return self.client.files.download_link(file_id)

    @property
    def transport(self) -> Any:
        """The client's transport, whose credential-free storage session fetches signed URLs."""
        return self.client.transport

    def select(self, query: Query) -> list[str]:
        """Dataset ids matching ``query``, each once, in a stable order."""
        if query.is_empty():
            raise ValueError("nothing selected: give dataset_ids or at least one query criterion")
        filters: dict[str, Any] = {}
        if query.project_id:
            filters["project_id"] = query.project_id
        if query.keyword:
            filters["keyword"] = query.keyword
        if query.instrument_name:
            filters["instrument_name"] = query.instrument_name
        created = query.created_since
        if created:
            filters["creation_time_gte"] = created.isoformat() if isinstance(created, datetime) else created
        chosen: list[str] = list(dict.fromkeys(query.dataset_ids))
        if query.sample_id:
            for sid in self._samples(query.sample_id, query.include_descendants):
                rows = self.client.datasets.list(sample_id=sid, limit=None, **filters)
                chosen.extend(_ids(r for r in rows if _matches(_plain(r), filters)))
        elif filters:
            chosen.extend(_ids(self.client.datasets.list(limit=None, **filters)))
        return list(dict.fromkeys(chosen))

    def _samples(self, sample_id: str, descendants: bool) -> list[str]:
        seen, todo = [sample_id], [sample_id]
        while descendants and todo:
            current = todo.pop()
            for child in self.client.samples.list_children(current, limit=None):
                cid = _plain(child).get("unique_id")
                if cid and cid not in seen:
                    seen.append(cid)
                    todo.append(cid)
        return seen


def _plain(obj: Any) -> dict:
    if isinstance(obj, dict):
        return obj
    dump = getattr(obj, "model_dump", None)
    return dump() if dump else dict(obj)


def _ids(rows: Iterable[Any]) -> list[str]:
    return [str(_plain(r)["unique_id"]) for r in rows if _plain(r).get("unique_id")]


def _matches(record: dict, filters: dict) -> bool:
    """Client-side filter (for sample-scoped lists, which the server does not filter fully)."""
    for key, want in filters.items():
        if key == "keyword":
            continue  # keywords are not part of the record; checked server-side where possible
        if key == "creation_time_gte":
            have = record.get("creation_time")
            if not have or str(have) < str(want):
                return False
        elif record.get(key) != want:
            return False
    return True
