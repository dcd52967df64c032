"""The mirror engine: Crucible datasets to any fsspec destination, verified and incremental.

:class:`MirrorJob` is the job (``crucible mirror`` and the ``mirror_downloads`` flow run it);
the pieces: selection, layout, manifest, verified copy, report. See docs/mirror.md.
"""

from .destination import Destination, open_destination
from .engine import Mirror, MirrorOptions
from .fetch import ChecksumMismatchError, TransferError
from .job import MirrorJob
from .paths import DEFAULT_RECORD_TEMPLATE, DEFAULT_TEMPLATE, UnsafePathError
from .report import FileResult, MirrorFailed, MirrorReport
from .selection import CrucibleSource, Query

__all__ = ["ChecksumMismatchError", "CrucibleSource", "DEFAULT_RECORD_TEMPLATE", "DEFAULT_TEMPLATE",
           "Destination", "FileResult", "Mirror", "MirrorFailed", "MirrorJob", "MirrorOptions",
           "MirrorReport", "Query", "TransferError", "UnsafePathError", "open_destination"]
