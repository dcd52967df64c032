"""``client.users`` (seed 2.1 names)."""

from __future__ import annotations

import builtins
from typing import Any, Iterable

from ..errors import CrucibleError
from ..models import User, as_payload
from .base import DEFAULT_LIMIT, Namespace, seg

__all__ = ["Users"]


class Users(Namespace):
    def get(self, orcid: str | None = None, email: str | None = None) -> dict[str, Any] | None:
        """By ORCID/unique id, or by exact email (``None`` if no match; several → error)."""
        if orcid:
            return self._get(f"users/{seg(orcid)}")
        if not email:
            raise ValueError("users.get needs orcid or email")
        rows = self._list("users", limit=None, params={"email": email})
        rows = [r for r in rows if str(r.get("email", "")).lower() == email.lower()] or rows
        if len(rows) > 1:
            raise CrucibleError(f"{len(rows)} users have the email {email!r}; use the orcid")
        return rows[0] if rows else None

    def list(self, limit: int | None = DEFAULT_LIMIT, **filters: Any) -> list[dict[str, Any]]:
        """Admin: users, sorted by ``id``."""
        rows = self._list("users", limit=limit, params=filters)
        return sorted(rows, key=lambda r: (r.get("id") is None, r.get("id") or 0))

    def search(self, q: str, limit: int = 20) -> builtins.list[dict]:
        return self._list("users/search", limit=limit, params={"q": q})

    def create(self, user: User | dict, project_ids: Iterable[str] | None = None) -> dict:
        """Admin: create or update a user by ORCID (an upsert, so retried safely)."""
        info = as_payload(user, User)
        if not info.get("orcid") and info.get("unique_id"):
            info["orcid"] = info["unique_id"]
        body = {"user_info": info, "project_ids": list(project_ids or [])}
        return self._t.request("POST", "users", json=body, safe=True)

    def update(self, orcid: str, **fields: Any) -> dict[str, Any]:
        return self._t.request("PATCH", f"users/{seg(orcid)}", json=fields, safe=True)

    def get_projects(self, orcid: str, limit: int | None = None) -> builtins.list[dict]:
        return self._list(f"users/{seg(orcid)}/projects", limit=limit)

    def list_datasets(self, orcid: str) -> builtins.list[Any]:
        """Ids of the datasets the user can access."""
        return self._whole_list(f"users/{seg(orcid)}/datasets")

    def check_dataset_access(self, orcid: str, dsid: str) -> dict[str, bool]:
        return self._get(f"users/{seg(orcid)}/datasets/{seg(dsid)}")

    def list_access_groups(self, orcid: str) -> builtins.list[Any]:
        return self._whole_list(f"users/{seg(orcid)}/access_groups")

    def add_to_access_group(self, orcid: str, group_name: str) -> dict[str, Any]:
        return self._t.request("POST", f"users/{seg(orcid)}/access_groups/{seg(group_name)}",
                               safe=True)

    def remove_from_access_group(self, orcid: str, group_name: str) -> dict[str, Any]:
        return self._delete(f"users/{seg(orcid)}/access_groups/{seg(group_name)}")
