"""Download one dataset: its record, then every file that passes the filters, verified.

Used by ``CrucibleClient.download`` and ``client.datasets.download``. The filters (the glob
language of crucible/globs.py, and the seed's deprecated regex) see the server's names before
any path check; unsafe or clashing names are refused without stopping the other files.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import FilesRefusedError
from ..transfer import ExistingFileDiffers, download_to_path, matches, safe_join, safe_relative_path
from ..transfer.download import NAME_ERRNOS, DownloadPlan, stored_relative_name

if TYPE_CHECKING:
    from ..client import CrucibleClient

__all__ = ["download_dataset", "write_record"]

log = logging.getLogger("crucible.client")


def write_record(output_dir: str | os.PathLike, resource_id: str, record: dict) -> Path:
    """``<output_dir>/<id>/record.json``, written atomically."""
    path = safe_join(output_dir, f"{safe_relative_path(resource_id)}/record.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return path


def download_dataset(client: "CrucibleClient", dsid: str, *, output_dir: str | os.PathLike,
                     no_files: bool = False, no_record: bool = False,
                     overwrite_existing: bool = True, include: Any = None, exclude: Any = None,
                     regex: re.Pattern | None = None,
                     progress: Callable[[int], None] | None = None) -> list[str]:
    """Download a dataset's files (verified) and its ``record.json``; see
    ``CrucibleClient.download`` for what is refused and raised."""
    root = Path(output_dir)
    out: list[str] = []
    if not no_record:
        record = client.datasets.get(dsid, include_metadata=True)
        out.append(str(write_record(root, dsid, record)))
    if no_files:
        return out
    links = client.datasets.get_download_links(dsid)
    if not links:
        log.info("dataset %s has no downloadable (ingested) files", dsid)
        return out
    plan = _plan_dataset(client, dsid, links, root, no_record=no_record, include=include,
                         exclude=exclude, regex=regex)
    differs: list[str] = []
    for f in plan.files():
        try:
            download_to_path(f.url, f.dest, sha256=f.record.get("sha256_hash"),
                             size=f.record.get("size"), overwrite=overwrite_existing,
                             transport=client.transport, progress=progress,
                             label=f"{dsid}/{f.rel}")
        except ExistingFileDiffers as exc:
            log.warning("%s", exc)
            differs.append(str(f.dest))
            plan.refuse(f.name, f.record, "a local file with other content is there; "
                                          "kept (overwrite_existing=False)")
            continue
        except OSError as exc:
            if exc.errno not in NAME_ERRNOS:
                raise
            plan.refuse(f.name, f.record, f"the local file system refuses the name: "
                                          f"{exc.strerror or exc}")
            continue
        out.append(str(f.dest))
    if len(plan.refused) > len(differs):
        for refused in plan.refused:
            log.warning("dataset %s: refused %s", dsid, refused)
        raise FilesRefusedError(f"download of dataset {dsid}", plan.refused, out)
    if differs:
        raise ExistingFileDiffers(
            f"{len(differs)} existing file(s) differ from the server and were kept: "
            f"{', '.join(differs)} (pass overwrite_existing=True to replace them)")
    return out


def _plan_dataset(client: "CrucibleClient", dsid: str, links: dict[str, str], root: Path, *,
                  no_record: bool, include: Any, exclude: Any,
                  regex: re.Pattern | None) -> DownloadPlan:
    """The dataset's files that pass the filters, with their local paths checked. The
    filters see the server's names before any check, so an excluded file is never
    refused."""
    files = {f.get("mfid"): f for f in client.files.list(dataset_id=dsid, limit=None)}
    plan = DownloadPlan(safe_join(root, safe_relative_path(dsid)),
                        reserved=() if no_record else ("record.json",))
    for key, url in links.items():
        name, rec = _relative_for(dsid, key, files)
        if not matches(name, include, exclude, also=(f"{dsid}/{name}",)):
            continue
        if regex is not None and not regex.search(name):
            continue
        plan.add(name, url, rec)
    return plan


def _relative_for(dsid: str, key: str, files: dict[Any, dict]) -> tuple[str, dict]:
    """The server's relative path (not yet checked) and the file record for a download-link
    key (a file mfid; older servers: ``<dsid>/<relative path>``)."""
    rec = files.get(key)
    if rec is not None:
        return stored_relative_name(dsid, rec), rec
    name = str(key).replace("\\", "/")
    return (name[len(dsid) + 1:] if name.startswith(f"{dsid}/") else name), {}
