"""Checks made before anything is created: credentials, project access, instrument, options.

A run that would fail half-way for a reason known up front (a project the key cannot write to,
an instrument Crucible does not know) fails here instead, with a message that says what to fix.
"""

from __future__ import annotations

from typing import Sequence

from crucible.resources.datasets import PROCESSING_TYPES

from .ops import CrucibleOps

__all__ = ["PreflightError", "check_access"]


class PreflightError(ValueError):
    """The run cannot start; the message says why and what to change."""


def check_access(ops: CrucibleOps, *, project_id: str, instrument_name: str,
                 owner_orcid: str | None, post_processing: Sequence[str],
                 ingestor: str | None = None) -> str:
    """Verify what can be verified before writing; return the owner orcid to record."""
    if not project_id or not project_id.strip():
        raise PreflightError("project_id is empty")
    if not instrument_name or not instrument_name.strip():
        raise PreflightError("instrument_name is empty")
    bad = [p for p in post_processing if p not in PROCESSING_TYPES]
    if bad:
        raise PreflightError(f"unknown post_processing {bad}; known: {', '.join(PROCESSING_TYPES)}")
    account = ops.account()
    user = account.get("user_info") or {}
    me = account.get("user_unique_id") or user.get("unique_id") or user.get("orcid")
    groups = set(account.get("access_group_ids") or account.get("access_groups") or [])
    is_admin = bool(user.get("is_admin") or account.get("is_admin"))
    if not is_admin and project_id not in groups:
        raise PreflightError(
            f"the API key's user {me} is not a member of project {project_id!r}, so it cannot "
            f"create datasets there (member of: {', '.join(sorted(groups)) or 'no projects'})")
    if not ops.instrument_exists(instrument_name):
        raise PreflightError(
            f"unknown instrument {instrument_name!r}: register it in Crucible first "
            "(instrument names are matched exactly)")
    if ingestor:
        known = ops.client.ingestions.ingestors()
        if known and ingestor not in known:
            raise PreflightError(f"unknown ingestor {ingestor!r}; the server offers: {', '.join(known)}")
    owner = owner_orcid or me
    if not owner:
        raise PreflightError("the server did not say who the API key's user is; pass owner_orcid")
    return str(owner)
