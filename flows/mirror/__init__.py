"""Pieces of the ``mirror_downloads`` flow: selection, layout, manifest, verified copy, report."""

from .destination import Destination, open_destination
from .engine import Mirror, MirrorOptions
from .fetch import ChecksumMismatchError, TransferError
from .paths import DEFAULT_RECORD_TEMPLATE, DEFAULT_TEMPLATE, UnsafePathError
from .report import FileResult, MirrorReport
from .selection import CrucibleSource, Query

__all__ = ["ChecksumMismatchError", "CrucibleSource", "DEFAULT_RECORD_TEMPLATE", "DEFAULT_TEMPLATE",
           "Destination", "FileResult", "Mirror", "MirrorOptions", "MirrorReport", "Query",
           "TransferError", "UnsafePathError", "open_destination"]
