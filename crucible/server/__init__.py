"""A local Crucible-compatible API server (FastAPI + SQLite + files on disk).

``from crucible.server import LocalCrucible`` runs it in a subprocess; ``crucible server start``
runs it in the foreground. See docs/server.md. Heavy dependencies load only when used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LocalCrucible", "create_app", "Settings"]


def __getattr__(name: str) -> Any:
    if name == "LocalCrucible":
        from .local import LocalCrucible

        return LocalCrucible
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(name)
