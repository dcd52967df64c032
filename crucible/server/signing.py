"""HMAC-signed, expiring download URLs (bearer capabilities: no API key needed)."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote


#: Slack for clocks and for links signed just before a check.
CLOCK_SLACK_S = 300


class Signer:
    """Signs and checks capability URLs. A link whose expiry lies further ahead than any link
    this server hands out (``ttl_s`` plus slack) is refused even with a valid signature, so a
    leaked secret cannot mint long-lived links."""

    def __init__(self, secret: bytes, base_url: str, ttl_s: int = 3600) -> None:
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self.ttl_s = ttl_s

    def _sig(self, file_mfid: str, expires: int) -> str:
        msg = f"{file_mfid}:{expires}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def sign(self, message: str, ttl_s: int | None = None) -> tuple[int, str]:
        """(expires, signature) for any capability ``message`` (e.g. one upload part)."""
        expires = int(time.time()) + (self.ttl_s if ttl_s is None else ttl_s)
        return expires, self._sig(message, expires)

    def url(self, file_mfid: str, ttl_s: int | None = None) -> str:
        expires = int(time.time()) + (self.ttl_s if ttl_s is None else ttl_s)
        return (f"{self.base_url}/_downloads/{quote(file_mfid)}"
                f"?expires={expires}&sig={self._sig(file_mfid, expires)}")

    def check(self, file_mfid: str, expires: str | None, sig: str | None) -> bool:
        """True if the signature (of a file mfid or a ``sign`` message) is ours and unexpired."""
        if not expires or not sig:
            return False
        try:
            exp = int(expires)
        except ValueError:
            return False
        now = time.time()
        if exp < now or exp > now + self.ttl_s + CLOCK_SLACK_S:
            return False
        return hmac.compare_digest(self._sig(file_mfid, exp), sig)
