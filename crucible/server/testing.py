"""Pytest fixtures: a session-wide local Crucible server and a normal user with its own project.

Use from a ``conftest.py`` with ``from crucible.server.testing import *``.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

import pytest

from .local import LocalCrucible


class UserKey(NamedTuple):
    orcid: str
    api_key: str
    project_id: str

    def __repr__(self) -> str:  # keys never appear in test output
        return f"UserKey(orcid={self.orcid!r}, api_key='***', project_id={self.project_id!r})"


@pytest.fixture(scope="session")
def crucible_server() -> Iterator[LocalCrucible]:
    """A running local server (auto ingestion, no faults) on a free port and a temp data dir."""
    with LocalCrucible() as srv:
        yield srv


@pytest.fixture(scope="session")
def crucible_user(crucible_server: LocalCrucible) -> UserKey:
    """A normal (non-admin) user who is a member of its own project."""
    orcid, project = "0000-0002-1825-0097", "TESTPROJ1"
    key = crucible_server.add_user(orcid, first_name="Test", last_name="User",
                                   email="test.user@example.org", projects=[project])
    return UserKey(orcid, key, project)


__all__ = ["UserKey", "crucible_server", "crucible_user"]
