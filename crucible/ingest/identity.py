"""Stable dataset identities: the same run content always maps to the same dataset unique_id.

The id is a UUID made from the sha256 of a canonical identity string (version nibble 8, "custom",
so it can never collide with a server's v7 ids), encoded as an MFID. Because the id is known
before anything is created, the lookup is one GET by id, a create whose response was lost comes
back as 409 and is resolved, and a run killed at any point finishes the *same* dataset when it is
started again.

- A file group (modes ``files`` and ``session`` children): instrument, project, run, the group's
  key and every member's relative path with its sha256. New content => a new dataset.
- A run-level dataset (the ``session`` parent, the ``single`` dataset): instrument, project, run
  and the role only, so files that settle later join the same dataset on a later run.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

from crucible.mfid import identity_mfid  # noqa: F401  (dataset ids: ident.identity_mfid)

#: Bump only with a migration plan: changing it gives every dataset a new id.
IDENTITY_SCHEME = "crucible-prefect/ingest/v1"

#: Read size while hashing: big enough for full disk speed, small next to upload chunks.
HASH_CHUNK = 1024 * 1024


def group_identity(instrument: str, project: str, run: str, key: str,
                   files: Iterable[tuple[str, str]]) -> str:
    """Canonical identity string of a file group; ``files`` are (relative path, sha256) pairs."""
    return json.dumps(
        {"scheme": IDENTITY_SCHEME, "instrument": instrument, "project": project, "run": run,
         "group": key, "files": sorted([rel, sha] for rel, sha in files)},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )


def run_identity(instrument: str, project: str, run: str, role: str) -> str:
    """Canonical identity string of a run-level dataset (``role``: 'session' or 'single')."""
    return json.dumps(
        {"scheme": IDENTITY_SCHEME, "instrument": instrument, "project": project, "run": run,
         "role": role},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )


def sha256_of(fs: Any, path: str, chunk_size: int = HASH_CHUNK, sink: Any = None) -> tuple[str, int]:
    """Stream ``path`` once through sha256 (and into ``sink``, if given); (hex digest, bytes)."""
    digest = hashlib.sha256()
    read = 0
    with fs.open(path, "rb") as fh:
        while True:
            block = fh.read(chunk_size)
            if not block:
                break
            digest.update(block)
            if sink is not None:
                sink.write(block)
            read += len(block)
    return digest.hexdigest(), read
