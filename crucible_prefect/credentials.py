"""`CrucibleCredentials`: the Prefect block that holds a Crucible API URL and key.

The block is the one place the API key is unwrapped (in :meth:`CrucibleCredentials.get_client`).
Clients are cached per process, keyed on everything that configures them, with the key reduced
to a digest so two blocks that differ only in their key never share a client.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from typing import Optional, TYPE_CHECKING, Any

from prefect.blocks.abstract import CredentialsBlock
from pydantic import Field, SecretStr, field_validator

if TYPE_CHECKING:
    from crucible import CrucibleClient

__all__ = ["CrucibleCredentials", "clear_client_cache"]

DEFAULT_API_URL = "https://crucible.lbl.gov/api/v2"
_CACHE_SIZE = 32

_clients: OrderedDict[tuple, Any] = OrderedDict()
_clients_lock = threading.Lock()


class CrucibleCredentials(CredentialsBlock):
    """Credentials for a Crucible API: the API root URL, an API key and connection settings.

    Save one block per Crucible account (a person or a service account); tasks load it by name
    or take it as an argument. The key is stored encrypted by Prefect and shown masked.

    Example:
        Load stored Crucible credentials and talk to the API:
        ```python
        from crucible_prefect import CrucibleCredentials

        crucible_credentials = CrucibleCredentials.load("BLOCK_NAME")
        client = crucible_credentials.get_client()
        print(client.whoami())
        ```
    """

    _block_type_name = "Crucible Credentials"
    _block_type_slug = "crucible-credentials"
    _logo_url = "https://crucible.lbl.gov/static/crucible-logo-256.png"  # type: ignore[assignment]
    _documentation_url = (
        "https://github.com/crucible-prefect/crucible-prefect/blob/main/docs/tasks.md")  # type: ignore[assignment]
    _description = (
        "Crucible API URL and API key, with timeouts and retry settings, for Crucible tasks "
        "and flows."
    )

    api_url: str = Field(
        default=DEFAULT_API_URL,
        title="API URL",
        description="Root of the Crucible REST API, for example https://crucible.lbl.gov/api/v2.",
    )
    api_key: SecretStr = Field(
        title="API key",
        description="Crucible API key of the account the tasks act as (a person or a service "
        "account).",
    )
    connect_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds to wait for a connection to the API.",
    )
    read_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds to wait for the API to answer once connected.",
    )
    retry_attempts: Optional[int] = Field(
        default=None,
        ge=1,
        le=100,
        description="Cap on attempts per HTTP request on transient failures (429, 502-504, lost "
        "connections), counting the first one; 1 turns the transport's retries off. "
        "Default: no cap, only retry_deadline.",
    )
    retry_deadline: float = Field(
        default=120.0,
        gt=0,
        description="Upper bound in seconds on the time one HTTP request may spend retrying.",
    )

    @field_validator("api_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("api_url must be an http(s) URL such as "
                             "https://crucible.lbl.gov/api/v2")
        return value

    @field_validator("api_key")
    @classmethod
    def _check_key(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("api_key is empty")
        return value

    def get_client(self) -> "CrucibleClient":
        """A configured `crucible.CrucibleClient`, shared by every caller in this process."""
        key = self._cache_key()
        with _clients_lock:
            client = _clients.get(key)
            if client is not None:
                _clients.move_to_end(key)
                return client
        client = self._build_client()
        with _clients_lock:
            client = _clients.setdefault(key, client)
            _clients.move_to_end(key)
            while len(_clients) > _CACHE_SIZE:
                _clients.popitem(last=False)
        return client

    def key_fingerprint(self) -> str:
        """A short digest identifying the API key without revealing it (for cache keys)."""
        secret = self.api_key.get_secret_value().encode()
        return hashlib.sha256(b"crucible-prefect:" + secret).hexdigest()[:16]

    def _cache_key(self) -> tuple:
        settings = self.model_dump(exclude={"api_key"}, mode="json")
        return (os.getpid(), self.key_fingerprint(), tuple(sorted(settings.items())))

    def _build_client(self) -> "CrucibleClient":
        from crucible import CrucibleClient, RetryPolicy

        return CrucibleClient(
            api_url=self.api_url,
            api_key=self.api_key.get_secret_value(),
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retry=RetryPolicy(attempts=self.retry_attempts, deadline=self.retry_deadline),
        )


def clear_client_cache() -> None:
    """Forget every cached client (tests, or after rotating a key in place)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        close = getattr(client, "close", None)
        if callable(close):
            close()
