"""Input models (pydantic v2). Unknown fields are kept, so newer server fields pass through.

The legacy timestamp names of the seed (Dataset ``creation_date``, Sample ``date_created``) are
accepted and mapped to ``timestamp``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["CrucibleModel", "Dataset", "Sample", "Project", "Instrument", "User", "as_payload"]

Timestamp = Optional[Union[datetime, str]]


class CrucibleModel(BaseModel):
    """Base: extra fields kept, assignment validated, dumped without ``None`` values."""

    model_config = ConfigDict(extra="allow", validate_assignment=True, populate_by_name=True)

    def payload(self) -> dict[str, Any]:
        """The JSON body for a create/update call: non-null fields, datetimes as ISO text."""
        return self.model_dump(mode="json", exclude_none=True)


def _legacy_timestamp(data: Any, *names: str) -> Any:
    if isinstance(data, dict):
        data = dict(data)
        for name in names:
            legacy = data.pop(name, None)
            if legacy is not None and data.get("timestamp") is None:
                data["timestamp"] = legacy
    return data


class Dataset(CrucibleModel):
    unique_id: Optional[str] = None
    dataset_name: Optional[str] = None
    public: bool = False
    owner_orcid: Optional[str] = None
    project_id: Optional[str] = None
    instrument_name: Optional[str] = None
    measurement: Optional[str] = None
    data_type: Optional[str] = None
    session_name: Optional[str] = None
    timestamp: Timestamp = None
    data_format: Optional[str] = None
    size: Optional[int] = None
    source_folder: Optional[str] = None
    file_to_upload: Optional[str] = None
    sha256_hash_file_to_upload: Optional[str] = None

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        return _legacy_timestamp(data, "creation_date")


class Sample(CrucibleModel):
    unique_id: Optional[str] = None
    sample_name: Optional[str] = None
    sample_type: Optional[str] = None
    owner_orcid: Optional[str] = None
    project_id: Optional[str] = None
    description: Optional[str] = None
    timestamp: Timestamp = None
    public: Optional[bool] = None

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        return _legacy_timestamp(data, "date_created", "creation_date")


class Project(CrucibleModel):
    project_id: str
    organization: Optional[str] = None
    project_lead_orcid: Optional[str] = None
    project_lead_email: Optional[str] = None
    status: Optional[str] = None
    title: Optional[str] = None


class Instrument(CrucibleModel):
    unique_id: Optional[str] = None
    instrument_name: Optional[str] = None
    manufacturer: Optional[str] = None
    model: Optional[str] = None
    owner: Optional[str] = None
    location: Optional[str] = None
    description: Optional[str] = None
    instrument_type: Optional[str] = None
    other_id: Optional[str] = None
    other_id_source: Optional[str] = None


class User(CrucibleModel):
    orcid: Optional[str] = None
    unique_id: Optional[str] = None
    username: Optional[str] = None
    first_name: Optional[str] = None
    last_name: Optional[str] = None
    email: Optional[str] = None
    is_service_account: Optional[bool] = None


def as_payload(obj: Any, model: type[CrucibleModel]) -> dict[str, Any]:
    """Accept a model instance or a plain dict; return the JSON body."""
    if isinstance(obj, CrucibleModel):
        return obj.payload()
    if isinstance(obj, dict):
        return model.model_validate(obj).payload()
    raise TypeError(f"expected a {model.__name__} or a dict, got {type(obj).__name__}")
