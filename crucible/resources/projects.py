"""``client.projects`` (seed 2.1 names)."""

from __future__ import annotations

import builtins
from typing import Any, Callable

from ..errors import NotFoundError
from ..models import Project, as_payload
from .base import DEFAULT_LIMIT, Namespace, seg

__all__ = ["Projects"]


class Projects(Namespace):
    def get(self, project_id: str, include_metadata: bool = False) -> dict[str, Any]:
        return self._get(f"projects/{seg(project_id)}", include_metadata=include_metadata or None)

    def list(self, orcid: str | None = None, limit: int | None = DEFAULT_LIMIT) -> list[dict]:
        """Visible projects, or the projects of one user."""
        path = f"users/{seg(orcid)}/projects" if orcid else "projects"
        return self._list(path, limit=limit)

    def search(self, q: str, limit: int = 20) -> builtins.list[dict]:
        return self._list("projects/search", limit=limit, params={"q": q})

    def create(self, project: Project | dict) -> dict[str, Any]:
        """Admin: create a project. Its id is the caller's, so a retry reads it back."""
        body = as_payload(project, Project)
        return self._create("projects", body, lambda: self.get(body["project_id"]))

    def update(self, project_id: str, **fields: Any) -> dict[str, Any]:
        return self._t.request("PATCH", f"projects/{seg(project_id)}", json=fields, safe=True)

    def get_or_create(self, project_id: str,
                      get_project_info_function: Callable[..., dict] | None = None,
                      **fields: Any) -> dict[str, Any]:
        """Return the project, creating it when missing (a concurrent create is read back)."""
        try:
            return self.get(project_id)
        except NotFoundError:
            pass
        if get_project_info_function is not None:
            fields = {**(get_project_info_function(project_id) or {}), **fields}
        from ..errors import ConflictError

        try:
            return self.create({"project_id": project_id, **fields})
        except ConflictError:
            return self.get(project_id)

    def get_users(self, project_id: str, limit: int | None = DEFAULT_LIMIT) -> builtins.list[dict]:
        return self._list(f"projects/{seg(project_id)}/users", limit=limit)

    def add_user(self, orcid: str, project_id: str) -> builtins.list[dict]:
        """Admin: add a member (idempotent); returns the member list."""
        return self._t.request("POST", f"projects/{seg(project_id)}/users/{seg(orcid)}",
                               safe=True)

    def remove_user(self, project_id: str, orcid: str) -> dict[str, Any]:
        return self._delete(f"projects/{seg(project_id)}/users/{seg(orcid)}")

    def get_scientific_metadata(self, project_id: str) -> dict[str, Any]:
        return self._client.datasets.get_scientific_metadata(project_id)


