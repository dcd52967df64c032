"""Plain Python client for the Crucible REST API v2 (source-compatible with nano-crucible 2.1)."""
