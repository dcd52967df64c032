"""The ingest settings: one model shared by the engine, the flow, the CLI and instruments.yaml."""

from __future__ import annotations

import re
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

Mode = Literal["session", "files", "single"]

#: Upper bound for ``max_concurrency``.
MAX_WORKERS = 64


class IngestOptions(BaseModel):
    """How a run is turned into datasets (everything but where the run is and which instrument).

    ``None`` for a field means its default, so an event payload or a deployment that leaves a
    key empty gets the same behaviour as one that omits it.
    """

    model_config = ConfigDict(extra="forbid")

    project_id: str = Field(description="Crucible project the datasets go to.")
    owner_orcid: Optional[str] = Field(default=None, description="Owner; default: the key's user.")
    mode: Mode = "session"
    include: Optional[list[str]] = None
    exclude: Optional[list[str]] = None
    grouping: str = "stem"
    run_name: Optional[str] = None
    sample_ids: Optional[list[str]] = None
    sample_rules: Optional[list[dict[str, Any]]] = None
    keywords: Optional[list[str]] = None
    scientific_metadata: Optional[dict[str, Any]] = None
    extractors: Optional[list[str]] = None
    ingestor: Optional[str] = None
    post_processing: Optional[list[str]] = None
    settle_seconds: Optional[float] = Field(default=30.0, ge=0)
    max_concurrency: int = Field(default=8, ge=1, le=MAX_WORKERS)
    storage_options: Optional[dict[str, Any]] = Field(
        default=None, description="fsspec options for the run's path.")
    digest_cache: bool = True

    @field_validator("grouping")
    @classmethod
    def _valid_grouping(cls, value: str) -> str:
        if value in ("stem", "file"):
            return value
        if value.startswith("regex:"):
            try:
                re.compile(value[len("regex:"):])
            except re.error as exc:
                raise ValueError(f"bad regex: {exc}") from None
            return value
        raise ValueError("must be 'stem', 'file' or 'regex:<pattern>'")


class IngestSettings(IngestOptions):
    """Everything one ingest run needs besides a client: the run, its instrument, the options."""

    path: str = Field(description="The run: a folder, a file or an fsspec URL.")
    instrument_name: str = Field(description="The instrument as registered in Crucible.")

    @classmethod
    def from_parameters(cls, **params: Any) -> "IngestSettings":
        """Settings from flow parameters, where ``None`` means "the default"."""
        return cls.model_validate({k: v for k, v in params.items() if v is not None})
