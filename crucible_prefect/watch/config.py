"""The instruments file (``deployments/instruments.yaml``): its schema and a loader with clear errors.

One entry per instrument says where its runs appear, how to tell that a run is finished, and how
the ingest flow should treat it. The ingest settings travel in the event payload, so adding an
instrument is an edit of this file only (the deployment's trigger templates them into the flow's
parameters). Loading validates everything up front; each problem is reported as
``instruments[<i>] '<name>': <field>: <message>`` so the broken line is easy to find.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crucible.ingest.settings import IngestOptions
from crucible.secrets import secret_paths, url_has_password

#: Names a writer uses while a file is still open (rename-on-close); a run holding one is busy.
DEFAULT_BUSY_PATTERNS: tuple[str, ...] = (
    "*.tmp", "*.part", "*.partial", "*.crdownload", "*.filepart", "~$*", ".~lock.*",
)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ConfigError(ValueError):
    """The instruments file is missing, unreadable or invalid; the message lists every problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class FinishedRule(_Strict):
    """How the watcher decides that a run is finished.

    With ``sentinel`` set, a run is finished when that file exists (inside a run folder, or next to
    a run file as ``<file><sentinel>``) and nothing changed since the previous poll. Without it, a
    run is finished after ``quiet_seconds`` with no file added, removed, grown or touched anywhere
    in it, and no busy (temporary) file present.
    """

    sentinel: str | None = Field(default=None, description="Sentinel file name, e.g. '.done'.")
    quiet_seconds: float = Field(default=60.0, gt=0, description="Quiet period in seconds.")
    recheck_seconds: float = Field(
        default=300.0, ge=0, description="How often an announced run is re-checked for late changes.",
    )

    @field_validator("sentinel")
    @classmethod
    def _plain_name(cls, value: str | None) -> str | None:
        if value is not None and (not value or "/" in value or "\\" in value):
            raise ValueError("must be a plain file name such as '.done' (no folders)")
        return value


class InstrumentEntry(IngestOptions):
    """One instrument: where to watch, when a run is finished, and the ingest flow's settings."""

    name: str = Field(description="Instrument name; the event resource is crucible.instrument.<name>.")
    watch_folder: str = Field(description="Folder on this machine where the instrument writes runs.")
    worker_folder: str | None = Field(
        default=None,
        description="The same folder as the workers see it (a path or fsspec URL); default: watch_folder.",
    )
    runs: Literal["folders", "files"] = Field(
        default="folders", description="'folders': each sub-folder is a run; 'files': each file is."
    )
    finished: FinishedRule = Field(default_factory=FinishedRule)
    busy_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_BUSY_PATTERNS))
    backfill: bool = Field(
        default=False,
        description="On the very first start, also emit runs that were already finished.",
    )

    # --- the ingest settings (crucible.ingest.IngestOptions) and the flow's Prefect-only ones ---
    settle_seconds: float | None = Field(  # type: ignore[assignment]
        default=None, ge=0,
        description="Default: 0 with a sentinel, else the quiet period (never longer than it).",
    )
    concurrency_limit: str | None = Field(
        default=None, description="Prefect global concurrency limit held per unit of work (e.g. crucible-api).",
    )
    storage_secret: str | None = Field(
        default=None, description="Prefect Secret block holding secret fsspec options (passwords, keys).",
    )
    credentials: str | None = Field(default=None, description="CrucibleCredentials block name.")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError("use letters, digits, '.', '_' and '-' only (it becomes part of an event resource id)")
        return value

    @field_validator("watch_folder")
    @classmethod
    def _expand(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return os.path.expandvars(os.path.expanduser(value))

    @field_validator("run_name")
    @classmethod
    def _no_run_name(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError("each run is named after its folder or file; run_name cannot be fixed here")
        return value

    @field_validator("storage_options")
    @classmethod
    def _no_secrets(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        found = secret_paths(value)
        if found:
            names = ", ".join(repr(path) for path in found)
            raise ValueError(
                f"{names} {'looks like a secret' if len(found) == 1 else 'look like secrets'}; "
                "event payloads, flow parameters and the watcher's ledger keep them in clear (the "
                "Prefect UI shows them). Put them in a Prefect Secret block named in storage_secret"
            )
        return value

    @field_validator("worker_folder")
    @classmethod
    def _no_password_in_url(cls, value: str | None) -> str | None:
        if url_has_password(value):
            raise ValueError("holds a password; it travels in the event payload. Leave it out of "
                             "the URL and put it in a Prefect Secret block named in storage_secret")
        return value

    @model_validator(mode="after")
    def _settle_within_quiet(self) -> "InstrumentEntry":
        rule = self.finished
        if rule.sentinel is None and self.settle_seconds is not None \
                and self.settle_seconds > rule.quiet_seconds:
            raise ValueError(
                f"settle_seconds ({self.settle_seconds:g}) must not exceed finished.quiet_seconds "
                f"({rule.quiet_seconds:g}): the flow would hold back files the watcher calls finished"
            )
        return self

    def resolved_settle_seconds(self) -> float:
        """The settle time the flow gets: explicit, else 0 with a sentinel, else the quiet period."""
        if self.settle_seconds is not None:
            return self.settle_seconds
        return 0.0 if self.finished.sentinel else self.finished.quiet_seconds

    def worker_path(self, run_path: str) -> str:
        """Translate a run's local path into the path the workers should read."""
        if not self.worker_folder:
            return run_path
        rel = os.path.relpath(run_path, self.watch_folder).replace(os.sep, "/")
        if rel == ".." or rel.startswith("../"):
            raise ValueError(f"{run_path} is not inside watch_folder {self.watch_folder} of "
                             f"instrument {self.name!r}, so its worker path is unknown")
        base = self.worker_folder.rstrip("/")
        return base if rel == "." else f"{base}/{rel}"

    def flow_parameters(self, run_path: str) -> dict[str, Any]:
        """Every ingest-flow parameter for one finished run (all keys present, JSON-able)."""
        options = self.model_dump(mode="json", include=set(IngestOptions.model_fields))
        options.pop("run_name", None)
        return {
            "path": self.worker_path(run_path),
            "instrument_name": self.name,
            **options,
            "settle_seconds": self.resolved_settle_seconds(),
            "concurrency_limit": self.concurrency_limit,
            "storage_secret": self.storage_secret,
            "credentials": self.credentials,
        }


def default_ledger_path() -> Path:
    """``$XDG_STATE_HOME/crucible/watch-ledger.sqlite`` (``~/.local/state`` when unset)."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "crucible" / "watch-ledger.sqlite"


class WatchConfig(_Strict):
    """The whole instruments file."""

    poll_seconds: float = Field(default=5.0, gt=0, description="Seconds between folder scans.")
    ledger: str | None = Field(default=None, description="Ledger file; default: default_ledger_path().")
    instruments: list[InstrumentEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> "WatchConfig":
        seen: dict[str, int] = {}
        for i, entry in enumerate(self.instruments):
            if entry.name in seen:
                raise ValueError(
                    f"instruments[{i}] '{entry.name}': name: duplicate of instruments[{seen[entry.name]}]"
                )
            seen[entry.name] = i
        return self

    def ledger_path(self) -> Path:
        return Path(os.path.expanduser(self.ledger)) if self.ledger else default_ledger_path()

    def instrument(self, name: str) -> InstrumentEntry:
        for entry in self.instruments:
            if entry.name == name:
                return entry
        known = ", ".join(e.name for e in self.instruments)
        raise ConfigError(f"unknown instrument {name!r}; the instruments file lists: {known}")


def _describe(error: Mapping[str, Any], raw: Any) -> str:
    """One line per problem: ``instruments[1] 'tem-01': finished.quiet_seconds: <msg>``."""
    loc = list(error.get("loc", ()))
    msg = error.get("msg", "invalid")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if msg.startswith("instruments["):  # already names its entry (cross-entry checks)
        return msg
    where = ""
    if len(loc) >= 2 and loc[0] == "instruments" and isinstance(loc[1], int):
        index = loc[1]
        name = None
        try:
            name = raw["instruments"][index].get("name")
        except (KeyError, IndexError, TypeError, AttributeError):
            pass
        where = f"instruments[{index}]" + (f" {name!r}" if name else "")
        loc = loc[2:]
    field = ".".join(str(part) for part in loc) or "(entry)"
    if error.get("type") == "extra_forbidden":
        msg = "unknown field (check the spelling)"
    return f"{where}: {field}: {msg}" if where else f"{field}: {msg}"


def parse_config(raw: Any, source: str = "<config>") -> WatchConfig:
    """Validate already-parsed YAML; raise ConfigError listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping with an 'instruments' list at the top")
    try:
        return WatchConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(err, raw) for err in exc.errors()]
        raise ConfigError(f"{source}: {len(lines)} problem(s):\n  " + "\n  ".join(lines)) from None


def load_config(path: str | os.PathLike[str]) -> WatchConfig:
    """Read and validate an instruments file; raise ConfigError with a readable message."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read instruments file {p}: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    return parse_config(raw, str(p))
