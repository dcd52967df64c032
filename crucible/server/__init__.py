"""A local Crucible-compatible API server (FastAPI + SQLite + files on disk)."""
