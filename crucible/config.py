"""Client configuration: explicit args > environment > nano-crucible's config.ini > defaults.

Nothing is read or created at import time; :func:`resolve_config` reads on demand. The file is
nano-crucible's own: ``user_config_dir("nano-crucible")/config.ini``.
"""

from __future__ import annotations

import configparser
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

__all__ = [
    "DEFAULT_API_URL",
    "ClientConfig",
    "config_file_path",
    "read_config_file",
    "resolve_config",
    "write_config_file",
    "mask_key",
]

DEFAULT_API_URL = "https://crucible.lbl.gov/api/v2"
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_CHUNK_SIZE = 32 * 1024 * 1024

#: setting name -> (section, environment variable)
_SETTINGS: dict[str, tuple[str, str]] = {
    "api_url": ("crucible", "CRUCIBLE_API_URL"),
    "api_key": ("crucible", "CRUCIBLE_API_KEY"),
    "connect_timeout": ("network", "CRUCIBLE_CONNECT_TIMEOUT"),
    "read_timeout": ("network", "CRUCIBLE_READ_TIMEOUT"),
    "chunk_size_mb": ("upload", "CRUCIBLE_UPLOAD_CHUNK_SIZE_MB"),
}


def mask_key(key: str | None) -> str:
    """A printable stand-in for an API key: never more than its last 4 characters."""
    if not key:
        return "<not set>"
    return "****" + key[-4:] if len(key) >= 12 else "****"


@dataclass(frozen=True)
class ClientConfig:
    """Resolved settings. The key is hidden from ``repr``."""

    api_url: str
    api_key: str | None = field(default=None, repr=False)
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    chunk_size: int = DEFAULT_CHUNK_SIZE
    source: dict[str, str] = field(default_factory=dict, compare=False)

    def __getstate__(self) -> Any:  # the key must not travel in pickles (Prefect results)
        raise TypeError("ClientConfig holds an API key and cannot be pickled; pass its "
                        "settings (without the key) and resolve the key where it is used")

    def __repr__(self) -> str:
        return (f"ClientConfig(api_url={self.api_url!r}, api_key={'set' if self.api_key else None!r}, "
                f"connect_timeout={self.connect_timeout}, read_timeout={self.read_timeout})")


def config_file_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where nano-crucible keeps ``config.ini`` on this platform (platformdirs' rules)."""
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    if sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    elif sys.platform.startswith("win"):
        base = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local") / "nano-crucible"
    else:
        base = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    return base / "nano-crucible" / "config.ini"


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def read_config_file(path: str | os.PathLike | None = None) -> dict[str, str]:
    """Known settings from the file (missing file → ``{}``); a key not in its own section is
    looked up in ``[crucible]`` (old flat files)."""
    p = Path(path) if path is not None else config_file_path()
    if not p.is_file():
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(p, encoding="utf-8")
    out: dict[str, str] = {}
    for name, (section, _env) in _SETTINGS.items():
        for sec in (section, "crucible"):
            if parser.has_option(sec, name):
                value = _unquote(parser.get(sec, name))
                if value:
                    out[name] = value
                break
    return out


def _number(name: str, value: str | float, source: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} from {source} must be a number, got {value!r}") from None
    if number <= 0:
        raise ValueError(f"{name} from {source} must be positive, got {value!r}")
    return number


def resolve_config(
    api_url: str | None = None,
    api_key: str | None = None,
    *,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    chunk_size: int | None = None,
    config_path: str | os.PathLike | None = None,
    environ: Mapping[str, str] | None = None,
    require_key: bool = True,
) -> ClientConfig:
    """Merge the sources in precedence order. Missing URL or key → ``ValueError``."""
    env = os.environ if environ is None else environ
    explicit = {"api_url": api_url, "api_key": api_key, "connect_timeout": connect_timeout,
                "read_timeout": read_timeout,
                "chunk_size_mb": None if chunk_size is None else chunk_size / (1024 * 1024)}
    file_values: dict[str, str] | None = None
    values: dict[str, Any] = {}
    source: dict[str, str] = {}
    for name, (_section, env_name) in _SETTINGS.items():
        if explicit[name] not in (None, ""):
            values[name], source[name] = explicit[name], "argument"
            continue
        if env.get(env_name):
            values[name], source[name] = env[env_name], f"environment ({env_name})"
            continue
        if file_values is None:
            file_values = read_config_file(config_path if config_path is not None
                                           else config_file_path(env))
        if name in file_values:
            values[name], source[name] = file_values[name], "config file"
    url = str(values.get("api_url") or DEFAULT_API_URL).strip().rstrip("/")
    source.setdefault("api_url", "default")
    if not url:
        raise ValueError("No Crucible API URL: pass api_url, set CRUCIBLE_API_URL or run "
                         "`crucible config init`")
    key = values.get("api_key")
    key = str(key).strip() if key else None
    if require_key and not key:
        raise ValueError("No Crucible API key: pass api_key, set CRUCIBLE_API_KEY or run "
                         "`crucible config init`")
    ct = _number("connect_timeout", values.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT),
                 source.get("connect_timeout", "default"))
    rt = _number("read_timeout", values.get("read_timeout", DEFAULT_READ_TIMEOUT),
                 source.get("read_timeout", "default"))
    if "chunk_size_mb" in values:
        mb = _number("chunk_size_mb", values["chunk_size_mb"], source["chunk_size_mb"])
        chunk = max(256 * 1024, int(mb * 1024 * 1024) // (256 * 1024) * (256 * 1024))
    else:
        chunk = DEFAULT_CHUNK_SIZE
    return ClientConfig(api_url=url, api_key=key, connect_timeout=ct, read_timeout=rt,
                        chunk_size=chunk, source=source)


def write_config_file(
    values: Mapping[str, str], path: str | os.PathLike | None = None
) -> Path:
    """Write settings into the file (keeping other sections) with mode 0600."""
    p = Path(path) if path is not None else config_file_path()
    parser = configparser.ConfigParser(interpolation=None)
    if p.is_file():
        parser.read(p, encoding="utf-8")
    for name, value in values.items():
        section = _SETTINGS[name][0] if name in _SETTINGS else "crucible"
        if not parser.has_section(section):
            parser.add_section(section)
        parser.set(section, name, str(value))
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        parser.write(fh)
    os.chmod(p, 0o600)  # an existing file keeps its old mode through os.open
    return p
