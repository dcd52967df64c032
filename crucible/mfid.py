"""Crucible MFIDs, and every id this repository derives: 26-character, time-sortable ids.

An MFID is the 16 UUID bytes in RFC 4648 base32 without padding, with each symbol swapped for
the symbol at the same position in ``0123456789abcdefghjkmnpqrstvwxyz``. Because the UUID is v7
(48-bit millisecond timestamp first), MFIDs sort by creation time. Core module: no dependencies.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
import time
import uuid

_RFC4648 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_MFID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_TO_MFID = str.maketrans(_RFC4648, _MFID_ALPHABET)
_FROM_MFID = str.maketrans(_MFID_ALPHABET, _RFC4648)

#: The last symbol carries 3 data bits followed by 2 zero bits.
MFID_PATTERN = re.compile(r"^[0-9a-hjkmnp-tv-z]{25}[048cgmrw]$")

_lock = threading.Lock()
_last_ms = -1
_last_rand = 0
_RAND_BITS = 74  # 12 bits rand_a + 62 bits rand_b


def uuid7() -> uuid.UUID:
    """A new UUIDv7; ids made in the same millisecond by this process still increase."""
    global _last_ms, _last_rand
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            rand = _last_rand + 1 + (int.from_bytes(os.urandom(2), "big") & 0xFF)
            if rand >> _RAND_BITS:  # counter overflow: borrow the next millisecond
                ms += 1
                rand = int.from_bytes(os.urandom(10), "big") >> 6
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 7  # leave headroom to count up
        _last_ms, _last_rand = ms, rand
    rand_a = rand >> 62
    rand_b = rand & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)


def mfid_from_uuid(u: uuid.UUID | str) -> str:
    """Encode a UUID (object or string) as an MFID."""
    if not isinstance(u, uuid.UUID):
        u = uuid.UUID(str(u))
    return base64.b32encode(u.bytes).decode("ascii").rstrip("=").translate(_TO_MFID)


def uuid_from_mfid(mfid: str) -> uuid.UUID:
    """Decode an MFID back to its UUID; ``ValueError`` if it is not a valid MFID."""
    if not is_mfid(mfid):
        raise ValueError(f"not an mfid: {mfid!r}")
    raw = base64.b32decode(mfid.translate(_FROM_MFID).upper() + "======")
    return uuid.UUID(bytes=raw)


def new_mfid() -> str:
    """A fresh MFID backed by a UUIDv7."""
    return mfid_from_uuid(uuid7())


def is_mfid(value: object) -> bool:
    """True if ``value`` is a string in MFID form (26 chars, Crockford-like alphabet)."""
    return isinstance(value, str) and MFID_PATTERN.match(value) is not None


def identity_mfid(identity: str) -> str:
    """The MFID derived from an identity string: the same text always gives the same id.

    A UUID from the text's sha256 with version 8 ("custom", RFC 9562), so it can never collide
    with a server's v7 ids. Used where an id must be known before anything is created (ingest's
    dataset identities), so a lookup is one GET and a lost create answer comes back as 409.
    """
    raw = bytearray(hashlib.sha256(identity.encode("utf-8")).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80  # version 8
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return mfid_from_uuid(uuid.UUID(bytes=bytes(raw)))


def name_mfid(namespace: uuid.UUID | str, name: str) -> str:
    """The MFID derived from ``name`` within ``namespace``: the same pair always gives the same id.

    A UUIDv5 (RFC 9562: SHA-1 of the namespace UUID and the UTF-8 name), so it can never collide
    with v7 ids or :func:`identity_mfid`'s v8 ids, and different namespaces give different ids for
    the same name. Stored ids depend on it: the local server names projects with it (namespace
    and all), so its output must never change.
    """
    if not isinstance(namespace, uuid.UUID):
        namespace = uuid.UUID(str(namespace))
    return mfid_from_uuid(uuid.uuid5(namespace, name))


def seeded_mfid(seed: bytes, millis: int) -> str:
    """A v7-shaped MFID with the time ``millis`` and random bits derived from ``seed``.

    The same seed and time give the same id (a retried create sends the id its first attempt
    sent); the time keeps MFIDs in creation order.
    """
    digest = int.from_bytes(hashlib.sha256(seed).digest()[:16], "big")
    value = ((millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | ((digest >> 64) & 0xFFF) << 64
             | 0b10 << 62 | digest & ((1 << 62) - 1))
    return mfid_from_uuid(uuid.UUID(int=value))


__all__ = ["MFID_PATTERN", "identity_mfid", "is_mfid", "mfid_from_uuid", "name_mfid", "new_mfid",
           "seeded_mfid", "uuid7", "uuid_from_mfid"]
