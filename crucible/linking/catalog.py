"""The few Crucible reads and writes sample linking needs, with per-run caches.

This is the only module of `crucible.linking` that calls the client. Every list read is
re-checked on our side (project, name, dataset) because the API silently ignores unknown query
parameters: a filter it does not know would otherwise return unrelated records.
"""

from __future__ import annotations

import json

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from crucible.mfid import identity_mfid
from crucible.linking.extract import base_name, name_variants, same_name

if TYPE_CHECKING:
    from crucible import CrucibleClient


def as_dict(record: Any) -> dict:
    """A plain dict from a client return value (dict or pydantic model)."""
    if record is None:
        return {}
    if isinstance(record, dict):
        return record
    if hasattr(record, "model_dump"):
        return record.model_dump()
    return dict(record)


def _is_not_found(exc: BaseException) -> bool:
    """404, or a 422 for an id the server cannot even parse: either way there is no record."""
    from crucible.errors import NotFoundError, ValidationError

    return isinstance(exc, (NotFoundError, ValidationError))


class SampleCatalog:
    """Reads datasets and samples for one linking run; caches lookups so each is made once."""

    def __init__(self, client: "CrucibleClient") -> None:
        self.client = client
        self._samples: dict[str, dict | None] = {}
        self._by_name: dict[tuple[str, str], list[dict]] = {}
        self._children: dict[str, list[dict]] = {}

    # -- datasets ---------------------------------------------------------------------------

    def get_dataset(self, dataset_id: str) -> dict | None:
        """The dataset with its scientific metadata, or None when missing or unreadable."""
        try:
            record = self.client.datasets.get(dataset_id, include_metadata=True)
        except Exception as exc:
            if _is_not_found(exc):
                return None
            raise
        record = as_dict(record)
        return record or None

    def file_names(self, dataset: dict) -> list[str]:
        """Base names of the dataset's files (and of its ``file_to_upload``), sorted, unique."""
        dataset_id = dataset["unique_id"]
        names: list[str] = []
        for row in self.client.files.list(dataset_id=dataset_id):
            row = as_dict(row)
            if row.get("dataset_mfid") not in (None, dataset_id):
                continue
            if row.get("filename"):
                names.append(base_name(row["filename"]))
        if dataset.get("file_to_upload"):
            names.append(base_name(dataset["file_to_upload"]))
        return sorted(dict.fromkeys(n for n in names if n))

    def linked_sample_ids(self, dataset_id: str) -> set[str]:
        """Ids of the samples already linked to the dataset."""
        rows = self.client.samples.list(dataset_id=dataset_id, limit=None)
        return {as_dict(r)["unique_id"] for r in rows}

    def find_datasets(self, *, project_id: str | None, instrument_name: str | None,
                      session_dataset_id: str | None,
                      created_since: datetime | None) -> list[dict]:
        """Datasets matching every given criterion (children of the session when given)."""
        filters: dict[str, Any] = {}
        if project_id:
            filters["project_id"] = project_id
        if instrument_name:
            filters["instrument_name"] = instrument_name
        if session_dataset_id:
            rows = self.client.datasets.list_children(session_dataset_id, limit=None, **filters)
        else:
            if created_since is not None:
                filters["creation_time_gte"] = _iso(created_since)
            rows = self.client.datasets.list(limit=None, **filters)
        found = []
        for row in map(as_dict, rows):
            if project_id and row.get("project_id") != project_id:
                continue
            if instrument_name and row.get("instrument_name") != instrument_name:
                continue
            if created_since is not None and not _created_since(row, created_since):
                continue
            found.append(row)
        return found

    # -- samples ----------------------------------------------------------------------------

    def get_sample(self, sample_id: str) -> dict | None:
        """The sample, or None when it does not exist or this key cannot read it."""
        if sample_id not in self._samples:
            try:
                self._samples[sample_id] = as_dict(self.client.samples.get(sample_id)) or None
            except Exception as exc:
                if not _is_not_found(exc):
                    raise
                self._samples[sample_id] = None
        return self._samples[sample_id]

    def samples_named(self, project_id: str, name: str, *, refresh: bool = False) -> list[dict]:
        """Readable samples of the project with exactly this name (any Unicode normalization).

        ``refresh=True`` asks the server again instead of using this run's cache.
        """
        key = (project_id, name)
        if refresh or key not in self._by_name:
            found: dict[str, dict] = {}
            for spelling in name_variants(name):
                rows = self.client.samples.list(project_id=project_id, sample_name=spelling,
                                                limit=None)
                for row in map(as_dict, rows):
                    if row.get("project_id") == project_id and same_name(
                            row.get("sample_name") or "", name):
                        found[row["unique_id"]] = row
            self._by_name[key] = sorted(found.values(), key=lambda r: r["unique_id"])
            for row in found.values():
                self._samples.setdefault(row["unique_id"], row)
        return self._by_name[key]

    def children(self, sample_id: str) -> list[dict]:
        """The sample's child samples."""
        if sample_id not in self._children:
            rows = self.client.samples.list_children(sample_id, limit=None)
            self._children[sample_id] = [as_dict(r) for r in rows]
        return self._children[sample_id]

    # -- writes -----------------------------------------------------------------------------

    def create_sample(self, project_id: str, name: str) -> tuple[dict, bool]:
        """The sample named ``name`` in the project, created once: ``(record, created)``.

        Its id is derived from the project and the name, so two linkers (or a retry after a lost
        answer) that create the same sample at once end up with one sample, not two.
        """
        uid = identity_mfid(json.dumps({"kind": "linked-sample", "project": project_id,
                                        "name": name}, sort_keys=True))
        made, created = self.client.samples.create_once(
            {"unique_id": uid, "sample_name": name, "project_id": project_id},
            same=("sample_name", "project_id"))
        record = as_dict(made)
        self._by_name[(project_id, name)] = [record]
        self._samples[record["unique_id"]] = record
        return record, created

    def add_link(self, dataset_id: str, sample_id: str) -> None:
        """Link the dataset to the sample (re-linking is a no-op on the server)."""
        self.client.datasets.add_sample(dataset_id, sample_id)


def _iso(moment: datetime) -> str:
    return _aware(moment).isoformat()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _created_since(row: dict, since: datetime) -> bool:
    text = row.get("creation_time") or row.get("creation_date")
    if not text:
        return False
    try:
        created = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return False
    return _aware(created) >= _aware(since)
