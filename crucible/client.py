"""``CrucibleClient``: the nano-crucible 2.1-compatible entry point, on one safe transport."""

from __future__ import annotations

import logging
import os
from typing import Any, Callable

from .config import ClientConfig, resolve_config
from .errors import CrucibleError, NotFoundError
from .resources import (Datasets, Deletions, Files, Graphs, Ingestions, Instruments, Projects,
                        Samples, Users)
from .resources.dataset_download import download_dataset, write_record
from .transport import RetryPolicy, Transport

__all__ = ["CrucibleClient"]

log = logging.getLogger("crucible.client")


class CrucibleClient:
    """Client for the Crucible API v2.

    ``CrucibleClient(api_url=None, api_key=None)`` resolves missing values from the environment
    (``CRUCIBLE_API_URL``, ``CRUCIBLE_API_KEY``, ...) and then nano-crucible's ``config.ini``;
    a missing key raises ``ValueError``. Keyword-only extras: timeouts, a :class:`RetryPolicy`,
    the upload chunk size and the config file to read.
    """

    def __init__(
        self,
        api_url: str | None = None,
        api_key: str | None = None,
        *,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        retry: RetryPolicy | None = None,
        chunk_size: int | None = None,
        config_path: str | os.PathLike | None = None,
    ) -> None:
        self.config: ClientConfig = resolve_config(
            api_url, api_key, connect_timeout=connect_timeout, read_timeout=read_timeout,
            chunk_size=chunk_size, config_path=config_path)
        if "/api/v1" in self.config.api_url:
            log.warning("API root %s looks like v1; this client speaks v2", self.config.api_url)
        self._transport = Transport(self.config.api_url, self.config.api_key,
                                    connect_timeout=self.config.connect_timeout,
                                    read_timeout=self.config.read_timeout, retry=retry)
        self.datasets = Datasets(self)
        self.samples = Samples(self)
        self.projects = Projects(self)
        self.instruments = Instruments(self)
        self.users = Users(self)
        self.graphs = Graphs(self)
        self.deletions = Deletions(self)
        self.files = Files(self)
        self.ingestions = Ingestions(self)

    # ------------------------------------------------------------------ basics
    @property
    def api_url(self) -> str:
        return self.config.api_url

    @property
    def transport(self) -> Transport:
        """The HTTP transport: ``transport.storage`` is the credential-free session for signed URLs."""
        return self._transport

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._transport.retry_policy

    def __repr__(self) -> str:
        return f"CrucibleClient(api_url={self.api_url!r})"

    def __getstate__(self):  # the key must not travel by pickling (Prefect results, logs)
        raise TypeError("CrucibleClient holds an API key and cannot be pickled; "
                        "pass its settings and build a new client instead")

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> "CrucibleClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def health(self) -> dict[str, Any]:
        """Server health without auth; the body is returned whatever the status."""
        for path in ("health/ready", "health"):
            try:
                return self._transport.request("GET", path, auth=False, allow_statuses=(503,))
            except NotFoundError:
                continue
        raise NotFoundError("GET", "/health", 404, "no health endpoint")

    def whoami(self) -> dict[str, Any]:
        """The caller's account: ``{user_unique_id, access_group_ids, user_info}``."""
        return self._transport.request("GET", "account")

    # ------------------------------------------------------------------ generic
    def get_resource_type(self, resource_id: str) -> str:
        """``dataset``, ``sample``, ``instrument``, ... (``NotFoundError`` if unknown)."""
        from .resources.base import seg

        body = self._transport.request("GET", f"resources/{seg(resource_id)}")
        rtype = (body or {}).get("resource_type") or (body or {}).get("object_type")
        if not rtype:
            raise CrucibleError(f"the server did not say what {resource_id!r} is")
        return str(rtype)

    def get(self, resource_id: str, resource_type: str | None = None,
            include_metadata: bool = False, include_links: bool = False) -> dict[str, Any]:
        """Any resource by id; with ``resource_type`` the typed call is used."""
        from .resources.base import seg

        if resource_type == "dataset":
            return self.datasets.get(resource_id, include_metadata, include_links)
        if resource_type == "sample":
            return self.samples.get(resource_id, include_links=include_links,
                                    include_metadata=include_metadata)
        if resource_type == "instrument":
            return self.instruments.get(instrument_id=resource_id)  # type: ignore[return-value]
        if resource_type == "project":
            return self.projects.get(resource_id, include_metadata=include_metadata)
        return self._transport.request(
            "GET", f"resources/{seg(resource_id)}",
            params={"include_metadata": include_metadata or None,
                    "include_links": include_links or None})

    def get_links(self, resource_id: str) -> list[dict[str, Any]]:
        from .pagination import items_of
        from .resources.base import seg

        return items_of(self._transport.request("GET", f"resources/{seg(resource_id)}/links"))

    def _link_call(self, a: str, b: str, remove: bool) -> dict[str, Any]:
        ta, tb = self.get_resource_type(a), self.get_resource_type(b)
        if {ta, tb} == {"dataset", "sample"}:
            ds, smp = (a, b) if ta == "dataset" else (b, a)
            return (self.datasets.remove_sample if remove else self.datasets.add_sample)(ds, smp)
        fn: Callable[[str, str], dict[str, Any]]
        if ta == tb == "dataset":
            fn = self.datasets.remove_child if remove else self.datasets.link_parent_child
        elif ta == tb == "sample":
            fn = self.samples.remove_child if remove else self.samples.link
        else:
            raise ValueError(f"cannot link a {ta} with a {tb}")
        if not remove:
            return fn(a, b)
        try:
            return fn(a, b)
        except NotFoundError:
            return fn(b, a)  # unlink does not know the direction

    def link(self, parent_id: str, child_id: str) -> dict[str, Any]:
        """Link two resources (dataset↔dataset, sample↔sample as parent→child; dataset↔sample).
        Re-linking is harmless."""
        return self._link_call(parent_id, child_id, remove=False)

    def unlink(self, id_a: str, id_b: str) -> dict[str, Any]:
        """Remove the link between two resources, in whichever direction it exists."""
        return self._link_call(id_a, id_b, remove=True)

    # ------------------------------------------------------------------ download
    def download(self, resource_id: str, output_dir: str | os.PathLike = "crucible-downloads",
                 no_files: bool = False, no_record: bool = False,
                 overwrite_existing: bool = True, include=None, exclude=None,
                 *, progress: Callable[[int], None] | None = None) -> list[str]:
        """Download a dataset's files (and ``record.json``) or a sample's record.

        Files land in ``<output_dir>/<id>/<relative path>``; ``include``/``exclude`` are glob
        patterns (one string or a list) on the relative path, applied before any path check.
        Every file is verified against the server's sha256 before it is renamed into place.
        Returns the paths written or kept. A file whose name is unsafe (``..``, absolute, NUL,
        too long) or whose local path another file would also take is refused, the others
        are downloaded, and then :class:`~crucible.errors.FilesRefusedError` names each refused
        file and why (``.refused``) and lists the paths downloaded (``.downloaded``).
        """
        rtype = self.get_resource_type(resource_id)
        if rtype == "dataset":
            return download_dataset(self, resource_id, output_dir=output_dir, no_files=no_files,
                                    no_record=no_record, overwrite_existing=overwrite_existing,
                                    include=include, exclude=exclude, progress=progress)
        record = self.get(resource_id, resource_type=rtype)
        return [] if no_record else [str(write_record(output_dir, resource_id, record))]

