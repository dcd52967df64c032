"""Which file names and emails the server accepts.

A file name is a path relative to its dataset (``run1/scan.h5``): it is shown to clients and used
by them to name downloads, so it must never climb out of the dataset folder or smuggle control
characters. Blobs on disk are named by mfid, never by these names.
"""

from __future__ import annotations

import re

MAX_NAME_CHARS = 1024
MAX_SEGMENT_BYTES = 255
MAX_EMAIL_CHARS = 254
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def file_name_problem(name: str) -> str | None:
    """Why ``name`` is not an acceptable dataset-relative file name, or None if it is."""
    if not name:
        return "must not be empty"
    if len(name) > MAX_NAME_CHARS:
        return f"must be at most {MAX_NAME_CHARS} characters"
    if _CONTROL.search(name):
        return "must not contain control characters (NUL, newline, ...)"
    if "\\" in name:
        return "must use '/' as the folder separator, not '\\'"
    if name.startswith("/"):
        return "must be relative to the dataset (no leading '/')"
    for segment in name.split("/"):
        if segment in ("", ".", ".."):
            return "must not contain empty, '.' or '..' path segments"
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            return f"path segments must be at most {MAX_SEGMENT_BYTES} bytes"
    return None


def check_file_name(name: str, field: str = "filename") -> str:
    """``name`` unchanged if acceptable; ValueError (a 422 in a request model) otherwise."""
    problem = file_name_problem(name)
    if problem is not None:
        raise ValueError(f"{field} {problem}")
    return name


def normalise_email(email: str | None) -> str | None:
    """Trimmed email, or None for null/empty; ValueError unless it looks like ``a@b``."""
    if email is None:
        return None
    email = email.strip()
    if not email:
        return None
    if len(email) > MAX_EMAIL_CHARS or not _EMAIL.match(email):
        raise ValueError("email must look like name@domain (at most 254 characters)")
    return email
