"""Pieces of the ``mirror_downloads`` flow: selection, layout, manifest, verified copy, report."""

from .destination import Destination, open_destination
from .engine import Mirror, MirrorOptions
from .fetch import ChecksumMismatch, RetryPolicy, TransferError
from .paths import DEFAULT_RECORD_TEMPLATE, DEFAULT_TEMPLATE, UnsafePathError
from .report import FileResult, MirrorReport
from .selection import CrucibleSource, Query

__all__ = ["ChecksumMismatch", "CrucibleSource", "DEFAULT_RECORD_TEMPLATE", "DEFAULT_TEMPLATE",
           "Destination", "FileResult", "Mirror", "MirrorOptions", "MirrorReport", "Query",
           "RetryPolicy", "TransferError", "UnsafePathError", "open_destination"]
