"""Which fsspec options are secrets: one place for the names, used wherever options become visible.

Flow parameters and event payloads are stored in clear by Prefect (and shown in its UI), and the
watcher writes its payloads to a ledger on disk. Options that hold credentials belong in a Prefect
Secret block instead (``storage_secret``). :func:`secret_paths` finds them at any depth of nested
dicts and lists (``client_kwargs.aws_secret_access_key``), by the names the usual fsspec backends
use, plus a few name fragments (``password``, ``secret``, ``token``, ...) that cover the rest.
"""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import urlsplit

__all__ = ["SECRET_NAMES", "SECRET_FRAGMENTS", "is_secret_name", "secret_paths", "url_has_password"]

#: Option names that hold a secret in the common fsspec backends (compared case-insensitively).
SECRET_NAMES: frozenset[str] = frozenset({
    # s3fs (and botocore's client_kwargs / config_kwargs)
    "key", "secret", "token", "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
    # gcsfs
    "credentials",
    # adlfs (Azure)
    "account_key", "connection_string", "sas_token", "client_secret", "credential",
    # sftp / ssh (paramiko), smb
    "password", "pkey", "key_filename", "passphrase",
})

#: Fragments that mark a name as secret wherever they appear in it.
SECRET_FRAGMENTS: tuple[str, ...] = (
    "password", "passwd", "passphrase", "secret", "token", "credential", "private_key", "api_key",
    "access_key", "account_key", "connection_string", "pkey",
)

#: gcsfs ``token`` values that choose an authentication method and hold no secret.
_GCSFS_TOKEN_METHODS = frozenset({"anon", "google_default", "cache", "cloud", "browser"})


def is_secret_name(name: str) -> bool:
    """True when an option called ``name`` usually holds a credential."""
    lowered = name.lower()
    return lowered in SECRET_NAMES or any(fragment in lowered for fragment in SECRET_FRAGMENTS)


def _holds_value(name: str, value: Any) -> bool:
    """An empty value, ``None``/``False`` or a gcsfs method name (``token="anon"``) is no secret."""
    if value is None or value is False or value == "" or value == {} or value == []:
        return False
    return not (name.lower() == "token" and isinstance(value, str) and value in _GCSFS_TOKEN_METHODS)


def secret_paths(options: Any, prefix: str = "") -> list[str]:
    """Paths of the options that look like secrets: ``['key', 'client_kwargs.aws_session_token']``.

    Walks nested dicts and lists (a list item is ``name[i]``); a secret-named option whose value
    is empty, ``None`` or a gcsfs method name such as ``"anon"`` is not reported.
    """
    found: list[str] = []
    if isinstance(options, Mapping):
        for name, value in options.items():
            path = f"{prefix}.{name}" if prefix else str(name)
            if is_secret_name(str(name)) and _holds_value(str(name), value):
                found.append(path)
            else:
                found.extend(secret_paths(value, path))
    elif isinstance(options, (list, tuple)):
        for index, item in enumerate(options):
            found.extend(secret_paths(item, f"{prefix}[{index}]"))
    return found


def url_has_password(url: str | None) -> bool:
    """True for a URL with a password in it (``sftp://user:pw@host/...``)."""
    if not url or "://" not in url:
        return False
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False
