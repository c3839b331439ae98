"""URLs Vigil signs for itself: an upload URL (PUT) and a results URL (GET) that need no API key.

The signature is HMAC-SHA256 over the method, the path and the expiry time, with a server
secret (`VIGIL_SIGNING_SECRET`, or one generated once and kept in the database). It travels in
the query string: `?expires=<unix seconds>&signature=<hex>`.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode


class BadSignature(Exception):
    """The URL is not one Vigil signed (or it was altered)."""


class Expired(Exception):
    """The URL was signed, but its time is up."""


class UrlSigner:
    def __init__(self, secret: bytes, base_url: str) -> None:
        self._secret = secret
        self.base_url = base_url.rstrip("/")

    def _mac(self, method: str, path: str, expires_s: int) -> str:
        message = f"{method.upper()}\n{path}\n{expires_s}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(self, method: str, path: str, expires_s: int) -> str:
        """The full URL (on `VIGIL_PUBLIC_BASE_URL`) of `method path`, valid until `expires_s`."""
        query = urlencode({"expires": expires_s, "signature": self._mac(method, path, expires_s)})
        return f"{self.base_url}{path}?{query}"

    def verify(self, method: str, path: str, expires: str | None, signature: str | None, now_s: float) -> int:
        """Raises BadSignature or Expired; returns the expiry time."""
        if not expires or not signature or not expires.isdigit():
            raise BadSignature("the URL lacks its 'expires' and 'signature' parameters")
        expires_s = int(expires)
        if not hmac.compare_digest(self._mac(method, path, expires_s), signature):
            raise BadSignature("the URL's signature does not match; use the URL exactly as Vigil handed it out")
        if now_s > expires_s:
            raise Expired(f"the URL expired at {expires_s}")
        return expires_s
