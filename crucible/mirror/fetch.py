"""Verified copy of one signed URL into an :class:`AtomicWriter`, committed only when correct.

The bytes are streamed by the client's ``crucible.transfer.copy_url`` (one streaming mechanism
for the whole project): it fetches on the transport's credential-free storage session (never the
API key), resumes a broken stream with ``Range``, hashes while it writes, and never puts the
signature of a URL in a message. This module adds what a mirror needs on top:

* the writer is committed only after size and sha256 matched, and aborted on any error, so the
  final name never holds a partial or wrong file;
* when the transfer fails for good (for example an expired link), one more attempt starts over
  with a fresh link for that file. A sha256 mismatch is final: the stored bytes are wrong.
"""

from __future__ import annotations

from typing import Any, BinaryIO, Callable, cast

from crucible.errors import ChecksumMismatchError, TransferError, redact_url
from crucible.transfer import CopyResult, copy_url

from .destination import Destination

__all__ = ["ChecksumMismatchError", "CopyResult", "TransferError", "copy_verified", "redact_url"]

CHUNK_SIZE = 1 * 2**20


def copy_verified(
    get_url: Callable[[bool], str],
    dest: Destination,
    relative: str,
    *,
    expected_size: int | None,
    expected_sha256: str,
    transport: Any = None,
    chunk_size: int = CHUNK_SIZE,
    link_attempts: int = 2,
) -> CopyResult:
    """Stream ``get_url(refresh)`` into ``dest/relative``; verify, then commit or abort.

    ``get_url(False)`` gives the URL from the dataset's link list; ``get_url(True)`` asks
    Crucible for a fresh one (used for the retry). Raises ``ChecksumMismatchError`` or
    ``TransferError``; on any error nothing new is left under the final name.
    """
    for attempt in range(link_attempts):
        writer = dest.open_writer(relative)
        try:
            result = copy_url(get_url(attempt > 0), cast(BinaryIO, writer), expected_sha256=expected_sha256,
                              expected_size=expected_size, chunk_size=chunk_size,
                              transport=transport, what=relative)
        except ChecksumMismatchError:
            writer.abort()
            raise
        except TransferError:
            writer.abort()
            if attempt + 1 >= link_attempts:
                raise
            continue
        except BaseException:
            writer.abort()
            raise
        writer.commit()
        return result
    raise AssertionError("unreachable")
