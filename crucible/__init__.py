"""Plain Python client for the Crucible REST API v2 (source-compatible with nano-crucible 2.1).

Importing this package reads no configuration and creates no files.
"""

from .client import CrucibleClient
from .errors import (AuthenticationError, ChecksumMismatchError, ConflictError,
                     CrucibleConnectionError, CrucibleError, CrucibleHTTPError, FilesRefusedError,
                     NotFoundError, RateLimitedError, ServerError, TransferError,
                     UnverifiedUploadError, ValidationError)
from .resources.ingestions import IngestionFailed
from .models import Dataset, Instrument, Project, Sample, User
from .transport import RetryPolicy
from .coexistence import warn_if_nano_crucible

warn_if_nano_crucible()

__all__ = [
    "AuthenticationError",
    "ChecksumMismatchError",
    "ConflictError",
    "CrucibleClient",
    "CrucibleConnectionError",
    "CrucibleError",
    "CrucibleHTTPError",
    "FilesRefusedError",
    "IngestionFailed",
    "Dataset",
    "Instrument",
    "NotFoundError",
    "Project",
    "RateLimitedError",
    "RetryPolicy",
    "Sample",
    "ServerError",
    "TransferError",
    "UnverifiedUploadError",
    "User",
    "ValidationError",
]
