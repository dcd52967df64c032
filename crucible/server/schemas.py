"""Request bodies (pydantic) and the field lists of each resource kind.

Unknown body fields are ignored, as a FastAPI server with pydantic models would do; wrong types
give FastAPI's 422.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..mfid import is_mfid
from .names import check_file_name, normalise_email

#: Largest file the server accepts (the largest object the real service's bucket stores).
MAX_FILE_BYTES = 5 * 1024**4
#: Largest thumbnail (base64 text) stored.
MAX_THUMBNAIL_CHARS = 2 * 1024**2


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _check_mfid(value: Optional[str]) -> Optional[str]:
    if value is not None and not is_mfid(value):
        raise ValueError("unique_id must be an mfid (26 chars, ^[0-9a-hjkmnp-tv-z]{25}[048cgmrw]$)")
    return value


class DatasetIn(_In):
    unique_id: Optional[str] = None
    dataset_name: Optional[str] = None
    public: Optional[bool] = None
    owner_orcid: Optional[str] = None
    project_id: Optional[str] = None
    instrument_name: Optional[str] = None
    measurement: Optional[str] = None
    data_type: Optional[str] = None
    session_name: Optional[str] = None
    timestamp: Optional[str] = None
    data_format: Optional[str] = None
    size: Optional[int] = Field(default=None, ge=0, le=2**63 - 1)
    source_folder: Optional[str] = None
    file_to_upload: Optional[str] = None
    sha256_hash_file_to_upload: Optional[str] = None
    ingestion_class: Optional[str] = None
    ingestion_githash: Optional[str] = None
    creation_date: Optional[str] = None  # legacy alias of timestamp on input

    _mfid = field_validator("unique_id")(_check_mfid)


class SampleIn(_In):
    unique_id: Optional[str] = None
    sample_name: Optional[str] = None
    sample_type: Optional[str] = None
    owner_orcid: Optional[str] = None
    owner_user_id: Optional[int] = None
    project_id: Optional[str] = None
    description: Optional[str] = None
    timestamp: Optional[str] = None
    date_created: Optional[str] = None  # legacy alias of timestamp
    public: Optional[bool] = None

    _mfid = field_validator("unique_id")(_check_mfid)


class InstrumentIn(_In):
    instrument_name: Optional[str] = None
    manufacturer: Optional[str] = None
    model: Optional[str] = None
    owner: Optional[str] = None
    location: Optional[str] = None
    description: Optional[str] = None
    instrument_type: Optional[str] = None
    other_id: Optional[str] = None
    other_id_source: Optional[str] = None


class ProjectIn(_In):
    project_id: Optional[str] = None
    organization: Optional[str] = None
    project_lead_orcid: Optional[str] = None
    project_lead_email: Optional[str] = None
    status: Optional[str] = None
    title: Optional[str] = None


class UserInfo(_In):
    orcid: Optional[str] = Field(default=None, min_length=1, max_length=200)
    unique_id: Optional[str] = Field(default=None, min_length=1, max_length=200)
    first_name: Optional[str] = None
    last_name: Optional[str] = None
    email: Optional[str] = None
    username: Optional[str] = Field(default=None, min_length=1, max_length=100)
    is_service_account: Optional[bool] = None

    @field_validator("email")
    @classmethod
    def _email(cls, v: Optional[str]) -> Optional[str]:
        return normalise_email(v)


class UserCreate(_In):
    user_info: UserInfo
    project_ids: list[str] = []


class UploadInitiate(_In):
    filename: str
    size: int = Field(ge=0, le=MAX_FILE_BYTES)
    sha256_hash: Optional[str] = None

    _name = field_validator("filename")(check_file_name)

    @field_validator("sha256_hash")
    @classmethod
    def _sha(cls, v: Optional[str]) -> Optional[str]:
        if v is not None:
            v = v.lower()
            if len(v) != 64 or any(c not in "0123456789abcdef" for c in v):
                raise ValueError("sha256_hash must be 64 hex characters")
        return v


class UploadComplete(_In):
    upload_id: str
    sha256_hash: Optional[str] = None


class ThumbnailIn(_In):
    thumbnail_name: Optional[str] = Field(default=None, max_length=1024)
    thumbnail_b64str: str = Field(max_length=MAX_THUMBNAIL_CHARS)


class ProfileIn(_In):
    """What a user may change about themselves (``null`` clears a field)."""

    first_name: Optional[str] = Field(default=None, max_length=200)
    last_name: Optional[str] = Field(default=None, max_length=200)
    email: Optional[str] = None
    username: Optional[str] = Field(default=None, min_length=1, max_length=100)

    @field_validator("email")
    @classmethod
    def _email(cls, v: Optional[str]) -> Optional[str]:
        return normalise_email(v)


class UserPatch(ProfileIn):
    """What an admin may change about a user."""

    is_service_account: Optional[bool] = None


class IngestionPatch(_In):
    id: Optional[int] = None
    status: Optional[str] = None
    ingestion_githash: Optional[str] = None
    ingestion_class: Optional[str] = None
    time_completed: Optional[str] = None
    error_message: Optional[str] = None


class ServiceAccountIn(_In):
    username: str
    unique_id: Optional[str] = None

    _mfid = field_validator("unique_id")(_check_mfid)


class ResolveIn(_In):
    orcids: list[str] = []
    usernames: list[str] = []
    emails: list[str] = []


def set_fields(model: BaseModel) -> dict[str, Any]:
    """The fields the client actually sent (explicit nulls included)."""
    return {k: getattr(model, k) for k in model.model_fields_set}


#: Scalar fields per kind that list filters may use (promoted columns handled in records.py).
FILTER_FIELDS: dict[str, Mapping[str, type]] = {
    "dataset": {k: (int if k == "size" else bool if k == "public" else str)
                for k in DatasetIn.model_fields if k != "creation_date"}
    | {"creation_time": str, "modification_time": str},
    "sample": {k: (int if k == "owner_user_id" else bool if k == "public" else str)
               for k in SampleIn.model_fields if k != "date_created"}
    | {"creation_time": str, "modification_time": str},
    "instrument": {k: str for k in InstrumentIn.model_fields} | {"unique_id": str},
}
