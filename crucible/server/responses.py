"""Response models: what the routes answer (the Crucible API's record shapes: datasets, samples,
files, users, ...; and its list envelopes), declared as ``response_model`` so the OpenAPI schema
states them and every answer is checked against them.

The routes build plain dicts (``records.py`` and friends); these models describe those dicts and
never add to them:

- ``extra="forbid"``: a key the server sends but a model does not declare is a server error (500)
  instead of being dropped silently, and the schema says ``additionalProperties: false``. Open
  shapes (scientific metadata, passthrough JSON) are typed ``dict[str, Any]`` where they occur.
- A field without a default is always sent (``null`` where typed ``X | None``). A field with a
  default is sent only in some answers (``deletion_request`` when a request exists, the
  ``include_*`` parts, a project's lead details): routes answering such records set
  ``response_model_exclude_unset=True`` (``SENT_ONLY``), so a key the dict did not have is not added.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")
EntityKind = Literal["dataset", "sample", "instrument"]
#: Route options for answers whose records carry keys only sometimes (see the module docstring).
SENT_ONLY: dict[str, Any] = {"response_model_exclude_unset": True}


class Out(BaseModel):
    """Base of every response model: unknown keys are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


# --- list envelopes ---------------------------------------------------------------------------


class OffsetPage(Out, Generic[T]):
    """The ``off`` envelope."""

    total: int
    limit: int
    offset: int
    items: list[T]


class CursorPage(Out, Generic[T]):
    """The ``key`` envelope of ``/datasets`` and ``/samples`` (newest first)."""

    items: list[T]
    next_cursor: str | None
    total: int
    limit: int


class SearchPage(Out, Generic[T]):
    """The envelope of the ``/search`` routes."""

    items: list[T]
    total: int
    limit: int


# --- small answers ----------------------------------------------------------------------------


class Detail(Out):
    """A confirmation (deletes, removals): ``{"detail": "... removed"}``."""

    detail: str


class Status(Out):
    """``/health/live``."""

    status: str


class Health(Status):
    """``/health``."""

    db: str
    version: str


class Ready(Health):
    """``/health/ready`` (the same body with 503 when the database does not answer)."""

    db_ms: float


class KeyInfo(Out):
    """``/account/verify`` and ``/users/{orcid}/apikey/verify``."""

    valid: bool
    created_at: str | None
    expires_at: str | None


class ResourceType(Out):
    """``/idtype/{id}``."""

    resource_type: str


class DownloadLink(Out):
    url: str


# --- users and accounts -----------------------------------------------------------------------


class PublicUser(Out):
    """A user as anyone may see them (no email)."""

    unique_id: str
    username: str | None
    first_name: str | None
    last_name: str | None


class User(PublicUser):
    """The full user record (the user themselves, admins, members seeing their project's lead)."""

    id: int
    orcid: str
    email: str | None
    is_service_account: bool
    is_admin: bool


class Account(Out):
    user_unique_id: str
    access_group_ids: list[str]
    user_info: User


class ServiceAccountKey(Out):
    """A service account with its new key (shown once)."""

    unique_id: str
    username: str | None
    is_service_account: bool
    api_key: str


class Membership(Out):
    group_name: str
    user_unique_id: str


class Access(Out):
    """What a user may do with a dataset."""

    read: bool
    write: bool


class AclEntry(Access):
    """A group's access to a resource."""

    group_name: str


class AclGrant(AclEntry):
    """An access grant as just written."""

    resource_id: str


class PublicAccess(Out):
    principal_id: str
    principal_type: str
    permission: str


# --- entity records (datasets, samples, instruments) ------------------------------------------


class DeletionSummary(Out):
    """The ``deletion_request`` part of a record (the resource's latest request)."""

    id: int
    status: str
    reason: str | None
    request_time: str
    requester_id: str
    review_time: str | None
    reviewer_notes: str | None


class Link(Out):
    """A direct neighbour, seen from the queried resource."""

    unique_id: str
    resource_type: EntityKind
    name: str | None
    relationship: Literal["parent", "child", "associated"]


class _Record(Out):
    """What every dataset, sample and instrument record has; the defaulted fields come only
    when the resource has a deletion request or the caller asked for them (``include_*``)."""

    unique_id: str
    creation_time: str
    modification_time: str
    deletion_request: DeletionSummary | None = None
    scientific_metadata: dict[str, Any] | None = None
    links: list[Link] | None = None


class _OwnedRecord(_Record):
    """Datasets and samples: owned by a user, in a project, public or not."""

    project_id: str | None
    owner_orcid: str | None
    public: bool
    owner: PublicUser | None = None


class Dataset(_OwnedRecord):
    resource_type: Literal["dataset"]
    dataset_name: str | None
    instrument_name: str | None
    measurement: str | None
    data_type: str | None
    session_name: str | None
    timestamp: str | None
    data_format: str | None
    size: int | None
    source_folder: str | None
    file_to_upload: str | None
    sha256_hash_file_to_upload: str | None
    ingestion_class: str | None
    ingestion_githash: str | None


class Sample(_OwnedRecord):
    resource_type: Literal["sample"]
    sample_name: str | None
    sample_type: str | None
    description: str | None
    timestamp: str | None


class Instrument(_Record):
    """``owner`` is the owning organisation's name (instruments have no owning user)."""

    resource_type: Literal["instrument"]
    instrument_name: str | None
    manufacturer: str | None
    model: str | None
    owner: str | None
    location: str | None
    description: str | None
    instrument_type: str | None
    other_id: str | None
    other_id_source: str | None


class Project(Out):
    """A project. The defaulted fields are left out of brief records (searches, a user's
    projects); ``scientific_metadata`` comes only on request, for members."""

    resource_type: Literal["project"]
    unique_id: str
    project_id: str
    organization: str | None
    title: str | None
    status: str | None
    project_lead_orcid: str | None
    project_lead_email: str | None
    creation_time: str
    modification_time: str
    project_lead_name: str | None = None
    project_lead_username: str | None = None
    lead: User | PublicUser | None = None
    scientific_metadata: dict[str, Any] | None = None


#: ``/resources/{id}``: any record, told apart by ``resource_type``.
AnyRecord = Annotated[Union[Dataset, Sample, Instrument, Project], Field(discriminator="resource_type")]


class LinkCreated(Out):
    parent_id: str
    child_id: str
    parent_type: EntityKind
    child_type: EntityKind
    relationship: Literal["child", "associated"]


class Keyword(Out):
    keyword: str
    num_datasets: int


class Thumbnail(Out):
    id: int
    thumbnail_name: str | None
    thumbnail_b64str: str


class ProcessingRequest(Out):
    id: int
    request_type: str
    dataset_mfid: str
    status: str
    time_created: str


class GraphNode(Out):
    id: str
    unique_id: str
    name: str | None
    entity_type: EntityKind
    project_id: str | None


class GraphEdge(Out):
    """``source`` is the parent (or the sample of an association)."""

    source: str
    target: str
    relationship: Literal["child", "associated"]


class Graph(Out):
    """``links`` repeats ``edges`` (some clients read one, some the other)."""

    nodes: list[GraphNode]
    edges: list[GraphEdge]
    links: list[GraphEdge]


# --- scientific metadata ----------------------------------------------------------------------


class MetadataDoc(Out):
    """A resource's scientific metadata (an open JSON object)."""

    unique_id: str
    scientific_metadata: dict[str, Any]


class LegacyMetadataDoc(MetadataDoc):
    """The S-era form, which names the dataset again as ``dataset_mfid``."""

    dataset_mfid: str


class MetadataHit(MetadataDoc):
    """One result of ``/resources/metadata/search``."""

    resource_type: EntityKind
    name: str | None
    owner_orcid: str | None
    creation_time: str
    modification_time: str
    rank: int


# --- files and uploads ------------------------------------------------------------------------


class AssociatedFile(Out):
    """A file of a dataset: ``filename`` is its path relative to the dataset, ``upload_path``
    where it was uploaded (era M), ``storage_path`` null until ingested."""

    mfid: str
    dataset_mfid: str
    filename: str
    upload_path: str
    storage_path: str | None
    size: int
    sha256_hash: str
    dataset_id: int | None
    creation_time: str


class ExistingFile(Out):
    """An upload initiate for content the dataset already holds."""

    existing_file: AssociatedFile


class ResumableUpload(Out):
    upload_id: str
    resumable_uri: str
    chunk_size_hint: int


class MultipartUpload(Out):
    upload_id: str
    part_size: int
    part_count: int


class UploadedPart(Out):
    part_number: int
    size: int
    crc32c: str


class MultipartStatus(Out):
    upload_id: str
    part_size: int
    next_part_number_marker: int | None
    parts: list[UploadedPart]


class SignedPart(Out):
    part_number: int
    url: str
    offset: int
    size: int
    headers: dict[str, str]
    expires_at: str


class SignedParts(Out):
    parts: list[SignedPart]


class UploadDone(Out):
    """The last chunk of a resumable upload (GCS style: ``size`` is a string)."""

    upload_id: str
    name: str
    size: str
    crc32c: str | None


# --- ingestion, deletion, join requests -------------------------------------------------------


class IngestionRequest(Out):
    id: int
    status: str
    ingestion_class: str
    dataset_mfid: str
    file_mfid: str | None
    time_created: str
    time_completed: str | None
    error_message: str | None
    ingestion_githash: str | None


class _Deletion(Out):
    """What a deletion request and an audit entry share."""

    id: int
    resource_type: str
    resource_id: str
    resource_name: str | None
    project_id: str | None
    requester_id: str
    reason: str | None
    status: str
    review_time: str | None
    reviewer_id: str | None
    reviewer_notes: str | None


class DeletionRequest(_Deletion):
    request_time: str


class DeletionAuditLog(_Deletion):
    """A hard delete as recorded. A forced delete had no request: ``request_id`` and
    ``request_time`` are null, the admin is the requester, the status ``forced``."""

    request_time: str | None
    request_id: int | None
    deleted_at: str


class JoinRequest(Out):
    id: int
    group_name: str
    requester_id: str
    reason: str | None
    status: str
    request_time: str
    review_time: str | None
    reviewer_id: str | None
    reviewer_notes: str | None


# --- admin controls ---------------------------------------------------------------------------


class Faults(Out):
    rate: float
    seed: int
    slow_s: float
    injected: dict[str, int]


class IngestMode(Out):
    mode: str


class RawFileNames(Out):
    mfid: str
    filename: str
    storage_path: str | None


# --- refusals ---------------------------------------------------------------------------------


class Problem(Out):
    """A refusal: ``detail`` is a message, or, for a parameter that failed validation, the list
    of ``{loc, msg, type, ...}`` errors."""

    detail: str | list[dict[str, Any]]


#: Documented on every route. FastAPI alone would document 422 as validation errors only, but a
#: request refused by a route's own checks (``HTTPException(422, "...")``) carries a message.
ERRORS: dict[int | str, dict[str, Any]] = {422: {"model": Problem}}
