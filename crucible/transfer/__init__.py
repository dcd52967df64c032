"""Moving bytes: hashing, resumable uploads, verified downloads, signed-URL streaming."""

from .download import (DownloadPlan, ExistingFileDiffers, PlannedFile, download_to_path,
                       stored_relative_name)
from .hashing import sha256_file, sha256_stream
from .paths import UnsafePathError, dataset_relative_path, matches, safe_join, safe_relative_path
from .stream import CopyResult, copy_url, stream_url
from .upload import upload_resumable

__all__ = [
    "CopyResult",
    "DownloadPlan",
    "ExistingFileDiffers",
    "PlannedFile",
    "UnsafePathError",
    "copy_url",
    "dataset_relative_path",
    "download_to_path",
    "matches",
    "safe_join",
    "safe_relative_path",
    "sha256_file",
    "sha256_stream",
    "stored_relative_name",
    "stream_url",
    "upload_resumable",
]
