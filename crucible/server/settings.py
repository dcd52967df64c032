"""Runtime settings of the local server (one object, passed to ``create_app``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

API_PREFIX = "/api/v2"
INGEST_MODES = ("auto", "manual")


@dataclass
class Settings:
    """Where the server keeps its state and how it behaves.

    ``public_url`` is the scheme+host+port clients reach the server at; signed download URLs and
    resumable upload URIs are built on it.
    """

    data_dir: Path
    public_url: str = "http://127.0.0.1:8000"
    admin_key: str | None = None
    fail_rate: float = 0.0
    fail_seed: int = 0
    ingest_mode: str = "auto"
    link_ttl_s: int = 3600
    chunk_size_hint: int = 8 * 1024 * 1024
    default_ingestor: str = "ApiUploadIngestor"
    max_body_bytes: int = 4 * 1024**2  # non-file request bodies (metadata, thumbnails)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if self.ingest_mode not in INGEST_MODES:
            raise ValueError(f"ingest_mode must be one of {INGEST_MODES}, not {self.ingest_mode!r}")
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")

    @property
    def api_url(self) -> str:
        return self.public_url.rstrip("/") + API_PREFIX

    @property
    def db_path(self) -> Path:
        return self.data_dir / "crucible.db"
