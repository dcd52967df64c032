"""Prefect blocks and tasks for Crucible."""
