"""``client.samples`` (seed 2.1 names)."""

from __future__ import annotations

from datetime import datetime
import builtins
from typing import Any, Iterable

from ..errors import ConflictError
from ..mfid import new_mfid
from ..models import Sample
from .base import DEFAULT_LIMIT, Namespace, deprecated, seg

__all__ = ["Samples"]


class Samples(Namespace):
    """Sample calls. Creates carry a client-made id, so a retried POST never duplicates."""

    def get(self, sample_id: str, include_links: bool = False,
            include_metadata: bool = False) -> dict[str, Any]:
        return self._get(f"samples/{seg(sample_id)}", include_links=include_links or None,
                         include_metadata=include_metadata or None)

    def list(self, dataset_id: str | None = None, parent_id: str | None = None,
             limit: int | None = DEFAULT_LIMIT, **filters: Any) -> list[dict[str, Any]]:
        """Samples of a dataset, children of a sample, or all visible samples."""
        if dataset_id is not None:
            path = f"datasets/{seg(dataset_id)}/samples"
        elif parent_id is not None:
            path = f"samples/{seg(parent_id)}/children"
        else:
            path = "samples"
        return self._list(path, limit=limit, params=filters)

    def count(self, **filters: Any) -> int:
        body = self._get("samples", limit=1, **filters)
        if isinstance(body, dict) and body.get("total") is not None:
            return int(body["total"])
        return len(self.list(limit=None, **filters))

    def search(self, q: str, project_id: str | None = None, limit: int = 20) -> builtins.list[dict]:
        return self._list("samples/search", limit=limit, params={"q": q, "project_id": project_id})

    def list_parents(self, sample_id: str, limit: int | None = DEFAULT_LIMIT,
                     **filters: Any) -> builtins.list[dict]:
        return self._list(f"samples/{seg(sample_id)}/parents", limit=limit, params=filters)

    def list_children(self, sample_id: str, limit: int | None = DEFAULT_LIMIT,
                      **filters: Any) -> builtins.list[dict]:
        return self._list(f"samples/{seg(sample_id)}/children", limit=limit, params=filters)

    def create(
        self,
        unique_id: str | None = None,
        sample_name: str | None = None,
        description: str | None = None,
        timestamp: datetime | str | None = None,
        owner_orcid: str | None = None,
        owner_user_id: int | None = None,
        project_id: str | None = None,
        sample_type: str | None = None,
        parents: Iterable[str] | None = None,
        children: Iterable[str] | None = None,
        date_created: datetime | str | None = None,
        creation_date: datetime | str | None = None,
        owner_id: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Create a sample (``unique_id`` or ``sample_name`` required), then link its parents
        and children."""
        if not unique_id and not sample_name:
            raise ValueError("samples.create needs unique_id or sample_name")
        model = Sample(unique_id=unique_id or new_mfid(), sample_name=sample_name,
                       description=description, owner_orcid=owner_orcid,
                       project_id=project_id, sample_type=sample_type,
                       timestamp=timestamp or date_created or creation_date, **extra)
        body = model.payload()
        sid = body["unique_id"]

        def read_back() -> dict[str, Any]:
            existing = self.get(sid)
            if existing.get("sample_name") != body.get("sample_name"):
                raise ConflictError("POST", "/samples", 409,
                                    f"sample {sid} already exists with other content")
            return existing

        record = self._create("samples", body, read_back)
        self._link_all(sid, parents, children)
        return record

    def _create_record(self, record: dict[str, Any]) -> dict[str, Any]:
        return self.create(**record)

    def update(self, unique_id: str, parents: Iterable[str] | None = None,
               children: Iterable[str] | None = None, **fields: Any) -> dict[str, Any]:
        """PATCH the non-null fields, then link the given parents and children."""
        for legacy in ("date_created", "creation_date"):
            if fields.get(legacy) is not None and fields.get("timestamp") is None:
                fields["timestamp"] = fields.pop(legacy)
            fields.pop(legacy, None)
        fields.pop("owner_user_id", None)
        fields.pop("owner_id", None)
        body = {k: (v.isoformat() if isinstance(v, datetime) else v)
                for k, v in fields.items() if v is not None}
        record = (self._t.request("PATCH", f"samples/{seg(unique_id)}", json=body, safe=True)
                  if body else self.get(unique_id))
        self._link_all(unique_id, parents, children)
        return record

    def _link_all(self, sid: str, parents, children) -> None:
        for p in parents or []:
            self.link(p, sid)
        for c in children or []:
            self.link(sid, c)

    def link(self, parent_id: str, child_id: str) -> dict[str, Any]:
        """Parent→child link (re-linking is harmless, so this is retried)."""
        return self._t.request("POST", f"samples/{seg(parent_id)}/children/{seg(child_id)}",
                               safe=True)

    def remove_child(self, parent_id: str, child_id: str) -> dict[str, Any]:
        return self._delete(f"samples/{seg(parent_id)}/children/{seg(child_id)}")

    def add_dataset(self, sample_id: str, dataset_id: str) -> dict[str, Any]:
        return self._client.datasets.add_sample(dataset_id, sample_id)

    def remove_dataset(self, sample_id: str, dataset_id: str) -> dict[str, Any]:
        return self._client.datasets.remove_sample(dataset_id, sample_id)

    def add_to_dataset(self, dataset_id: str, sample_id: str) -> dict[str, Any]:
        deprecated("samples.add_to_dataset", "samples.add_dataset(sample_id, dataset_id)")
        return self._client.datasets.add_sample(dataset_id, sample_id)

    def remove_from_dataset(self, dataset_id: str, sample_id: str) -> dict[str, Any]:
        deprecated("samples.remove_from_dataset", "samples.remove_dataset(sample_id, dataset_id)")
        return self._client.datasets.remove_sample(dataset_id, sample_id)

    def get_scientific_metadata(self, sample_id: str) -> dict[str, Any]:
        return self._client.datasets.get_scientific_metadata(sample_id)

    def update_scientific_metadata(self, sample_id: str, metadata: dict,
                                   overwrite: bool = False) -> dict[str, Any]:
        return self._client.datasets.update_scientific_metadata(sample_id, metadata, overwrite)

    def graph(self, sample_id: str, recursive: bool = False, as_networkx: bool = False):
        return self._client.graphs.get(sample_id, recursive=recursive, as_networkx=as_networkx)
