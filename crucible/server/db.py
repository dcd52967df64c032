"""SQLite schema (SQLAlchemy 2 ORM), engine and sessions.

Datasets, samples and instruments share one ``entities`` table: they have the same access rules,
links, metadata and deletion requests, and one table keeps keyset paging and filtering in one
place. Type-specific fields live in the JSON column ``fields``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON, Boolean, ForeignKey, Index, Integer, String, Text, create_engine, event,
)
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

log = logging.getLogger(__name__)


def now_iso() -> str:
    """Current UTC time as ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unique_id: Mapped[str] = mapped_column(String, unique=True)  # ORCID or service-account mfid
    username: Mapped[str | None] = mapped_column(String, unique=True)
    first_name: Mapped[str | None] = mapped_column(String)
    last_name: Mapped[str | None] = mapped_column(String)
    email: Mapped[str | None] = mapped_column(String, index=True)
    is_service_account: Mapped[bool] = mapped_column(Boolean, default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    creation_time: Mapped[str] = mapped_column(String, default=now_iso)


class ApiKey(Base):
    """Only the SHA-256 of a key is stored; keys are 256-bit random, so no salt is needed."""

    __tablename__ = "api_keys"
    key_hash: Mapped[str] = mapped_column(String, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[str] = mapped_column(String, default=now_iso)
    expires_at: Mapped[str | None] = mapped_column(String)
    bootstrap: Mapped[bool] = mapped_column(Boolean, default=False)


class Membership(Base):
    """A user in an access group (projects are groups named by project_id)."""

    __tablename__ = "memberships"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    group_name: Mapped[str] = mapped_column(String, primary_key=True, index=True)


class Project(Base):
    __tablename__ = "projects"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(String, unique=True)
    organization: Mapped[str | None] = mapped_column(String)
    title: Mapped[str | None] = mapped_column(String)
    status: Mapped[str | None] = mapped_column(String)
    project_lead_orcid: Mapped[str | None] = mapped_column(String)
    project_lead_email: Mapped[str | None] = mapped_column(String)
    creation_time: Mapped[str] = mapped_column(String, default=now_iso)
    modification_time: Mapped[str] = mapped_column(String, default=now_iso)


class Entity(Base):
    """A dataset, sample or instrument (``kind``)."""

    __tablename__ = "entities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # keyset order; internal int id
    unique_id: Mapped[str] = mapped_column(String, unique=True)
    kind: Mapped[str] = mapped_column(String)
    name: Mapped[str | None] = mapped_column(String)
    project_id: Mapped[str | None] = mapped_column(String)
    owner_orcid: Mapped[str | None] = mapped_column(String)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)  # pending/approved deletion
    last_deletion_id: Mapped[int | None] = mapped_column(Integer)  # spares a lookup per record
    creation_time: Mapped[str] = mapped_column(String, default=now_iso)
    modification_time: Mapped[str] = mapped_column(String, default=now_iso)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    __table_args__ = (
        Index("ix_entities_kind_id", "kind", "id"),
        Index("ix_entities_project", "project_id"),
    )


class Metadata(Base):
    """Scientific metadata of any resource (entity unique_id or project_id)."""

    __tablename__ = "metadata"
    unique_id: Mapped[str] = mapped_column(String, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class Acl(Base):
    __tablename__ = "acl"
    resource_id: Mapped[str] = mapped_column(String, primary_key=True)
    group_name: Mapped[str] = mapped_column(String, primary_key=True, index=True)
    read: Mapped[bool] = mapped_column(Boolean, default=True)
    write: Mapped[bool] = mapped_column(Boolean, default=False)


class Link(Base):
    """``parent_id`` → ``child_id`` (same kind), or sample → dataset when ``kind='assoc'``."""

    __tablename__ = "links"
    parent_id: Mapped[str] = mapped_column(String, primary_key=True)
    child_id: Mapped[str] = mapped_column(String, primary_key=True, index=True)
    kind: Mapped[str] = mapped_column(String, default="child")


class Keyword(Base):
    __tablename__ = "keywords"
    dataset_id: Mapped[str] = mapped_column(String, primary_key=True)
    keyword: Mapped[str] = mapped_column(String, primary_key=True, index=True)


class Thumbnail(Base):
    __tablename__ = "thumbnails"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[str] = mapped_column(String, index=True)
    thumbnail_name: Mapped[str | None] = mapped_column(String)
    thumbnail_b64str: Mapped[str] = mapped_column(Text)


class File(Base):
    __tablename__ = "files"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    mfid: Mapped[str] = mapped_column(String, unique=True)
    dataset_mfid: Mapped[str] = mapped_column(String, index=True)
    relpath: Mapped[str] = mapped_column(String)  # client-supplied name: metadata only
    filename: Mapped[str] = mapped_column(String)
    storage_path: Mapped[str | None] = mapped_column(String)
    size: Mapped[int] = mapped_column(Integer)
    sha256_hash: Mapped[str] = mapped_column(String, index=True)
    crc32c: Mapped[str | None] = mapped_column(String)
    creation_time: Mapped[str] = mapped_column(String, default=now_iso)


class Upload(Base):
    __tablename__ = "uploads"
    upload_id: Mapped[str] = mapped_column(String, primary_key=True)
    dataset_mfid: Mapped[str] = mapped_column(String, index=True)
    filename: Mapped[str] = mapped_column(String)
    size: Mapped[int] = mapped_column(Integer)
    sha256_hash: Mapped[str | None] = mapped_column(String)
    received: Mapped[int] = mapped_column(Integer, default=0)
    crc32c: Mapped[str | None] = mapped_column(String)  # base64, set when all bytes arrived
    sha256_actual: Mapped[str | None] = mapped_column(String)
    file_mfid: Mapped[str | None] = mapped_column(String)  # set by complete
    part_size: Mapped[int | None] = mapped_column(Integer)  # signed multipart uploads only
    creation_time: Mapped[str] = mapped_column(String, default=now_iso)


class UploadPart(Base):
    """A received part of a signed multipart upload (its bytes are on disk)."""

    __tablename__ = "upload_parts"
    upload_id: Mapped[str] = mapped_column(String, primary_key=True)
    part_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    crc32c: Mapped[str] = mapped_column(String)


class IngestionRequest(Base):
    __tablename__ = "ingestion_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String, default="requested", index=True)
    ingestion_class: Mapped[str] = mapped_column(String)
    dataset_mfid: Mapped[str] = mapped_column(String, index=True)
    file_mfid: Mapped[str | None] = mapped_column(String, index=True)
    time_created: Mapped[str] = mapped_column(String, default=now_iso)
    time_completed: Mapped[str | None] = mapped_column(String)
    error_message: Mapped[str | None] = mapped_column(Text)
    ingestion_githash: Mapped[str | None] = mapped_column(String)
    requester_id: Mapped[int | None] = mapped_column(Integer)


class DeletionRequest(Base):
    __tablename__ = "deletion_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_type: Mapped[str] = mapped_column(String)
    resource_id: Mapped[str] = mapped_column(String, index=True)
    resource_name: Mapped[str | None] = mapped_column(String)
    project_id: Mapped[str | None] = mapped_column(String)
    requester_id: Mapped[str] = mapped_column(String)
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String, default="pending")
    request_time: Mapped[str] = mapped_column(String, default=now_iso)
    review_time: Mapped[str | None] = mapped_column(String)
    reviewer_id: Mapped[str | None] = mapped_column(String)
    reviewer_notes: Mapped[str | None] = mapped_column(Text)


class DeletionAudit(Base):
    __tablename__ = "deletion_audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int | None] = mapped_column(Integer)
    resource_type: Mapped[str] = mapped_column(String)
    resource_id: Mapped[str] = mapped_column(String, index=True)
    resource_name: Mapped[str | None] = mapped_column(String)
    project_id: Mapped[str | None] = mapped_column(String)
    requester_id: Mapped[str | None] = mapped_column(String)
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String)
    request_time: Mapped[str | None] = mapped_column(String)
    review_time: Mapped[str | None] = mapped_column(String)
    reviewer_id: Mapped[str | None] = mapped_column(String)
    reviewer_notes: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[str] = mapped_column(String, default=now_iso)


class ProcessingRequest(Base):
    __tablename__ = "processing_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_type: Mapped[str] = mapped_column(String)
    dataset_mfid: Mapped[str] = mapped_column(String, index=True)
    status: Mapped[str] = mapped_column(String, default="complete")
    time_created: Mapped[str] = mapped_column(String, default=now_iso)


class JoinRequest(Base):
    __tablename__ = "join_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_name: Mapped[str] = mapped_column(String, index=True)
    requester_id: Mapped[str] = mapped_column(String, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String, default="pending")
    request_time: Mapped[str] = mapped_column(String, default=now_iso)
    review_time: Mapped[str | None] = mapped_column(String)
    reviewer_id: Mapped[str | None] = mapped_column(String)
    reviewer_notes: Mapped[str | None] = mapped_column(Text)


class ServerState(Base):
    """Small key/value settings that must survive restarts (e.g. the signing secret)."""

    __tablename__ = "server_state"
    key: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def rowcount(result: Result[Any]) -> int:
    """How many rows the UPDATE or DELETE that gave ``result`` matched.

    ``Session.execute`` is typed as returning a ``Result``; for these statements it returns its
    ``CursorResult`` subclass, which alone has ``rowcount``.
    """
    if not isinstance(result, CursorResult):
        raise TypeError(f"not the result of an UPDATE or DELETE: {type(result).__name__}")
    return result.rowcount


def make_engine(db_path: Path) -> Engine:
    """An engine for the SQLite file with WAL, a busy timeout and foreign keys on."""
    engine = create_engine(
        f"sqlite:///{db_path}",
        connect_args={"check_same_thread": False, "timeout": 30},
        # Unbounded overflow: sessions are opened in the event loop (async dependencies), so a
        # checkout must never wait for a connection that only the loop itself could release.
        pool_size=20, max_overflow=-1,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return engine


#: One row with bytes per (dataset, content); rows registered without bytes are not counted.
_UNIQUE_CONTENT = ("CREATE UNIQUE INDEX IF NOT EXISTS ux_files_dataset_content "
                   "ON files (dataset_mfid, sha256_hash) WHERE crc32c IS NOT NULL")
#: One email per user, ignoring case (emails identify people to leads and resolvers).
_UNIQUE_EMAIL = ("CREATE UNIQUE INDEX IF NOT EXISTS ux_users_email "
                 "ON users (lower(trim(email))) WHERE email IS NOT NULL")


def _unique_indexes(engine: Engine) -> None:
    """Add the uniqueness rules; a data dir from an older version that already breaks one keeps
    working (the services refuse new duplicates and ambiguous lookups)."""
    for ddl in (_UNIQUE_CONTENT, _UNIQUE_EMAIL):
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(ddl)
        except IntegrityError:
            log.warning("existing rows break %r; index not created", ddl)


def private_path(path: Path) -> None:
    """Owner-only permissions: 0700 for directories, 0600 for files (if it exists)."""
    if path.exists():
        path.chmod(0o700 if path.is_dir() else 0o600)


def open_database(db_path: Path) -> sessionmaker[Session]:
    """Create the schema if needed and return a session factory. The database holds the
    signing secret, so it and its directory are readable by the owner only."""
    db_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_path(db_path.parent)
    engine = make_engine(db_path)
    Base.metadata.create_all(engine)
    _unique_indexes(engine)
    for suffix in ("", "-wal", "-shm"):
        private_path(db_path.with_name(db_path.name + suffix))
    return sessionmaker(engine, expire_on_commit=False)
