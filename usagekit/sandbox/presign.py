"""Presigned download URLs for the sandbox's export files, in the style of object storage.

``{endpoint}/files/<task_id>.<xlsx|pdf>?Expires=<epoch>&OSSAccessKeyId=<id>&Signature=<hmac>``: the
signature is an HMAC-SHA1 (url-safe base64) of the path, expiry and key id with a server secret, and
expiry is in sandbox time. A URL is signed afresh at every listing.

>>> signer = Presigner(b"server-secret", "LTAI-sandbox-files", ttl=900)
>>> url = signer.url("http://127.0.0.1:8080", "/files/123.xlsx", now=1000)
>>> url.split("?")[0]
'http://127.0.0.1:8080/files/123.xlsx'
>>> signer.check("/files/123.xlsx", dict(p.split("=", 1) for p in url.split("?")[1].split("&")), now=1500)
>>> signer.check("/files/123.xlsx", dict(p.split("=", 1) for p in url.split("?")[1].split("&")), now=2000)
('AccessDenied', 'Request has expired.')
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from urllib.parse import quote

__all__ = ["Presigner"]


class Presigner:
    """Signs and checks download URLs with a server ``secret``, valid ``ttl`` seconds of sandbox time."""

    def __init__(self, secret: bytes, key_id: str, *, ttl: float) -> None:
        self._secret = secret
        self.key_id = key_id
        self.ttl = float(ttl)

    def __repr__(self) -> str:
        return f"Presigner(ttl={self.ttl:g})"

    def _signature(self, path: str, expires: str) -> str:
        message = f"GET\n{path}\n{expires}\n{self.key_id}".encode()
        digest = hmac.digest(self._secret, message, "sha1")
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def url(self, base: str, path: str, *, now: float) -> str:
        """The presigned URL of ``path`` on ``base``, expiring ``ttl`` seconds after sandbox ``now``."""
        expires = str(int(now + self.ttl))
        # Every value is URL-safe already (digits, the alphanumeric key id, url-safe base64 without
        # padding), so the query is written directly: urlencode was most of a listing's cost.
        signature = self._signature(path, expires)
        return f"{base}{quote(path)}?Expires={expires}&OSSAccessKeyId={self.key_id}&Signature={signature}"

    def check(self, path: str, query: Mapping[str, str], *, now: float) -> tuple[str, str] | None:
        """``None`` when the URL is good, else the (code, message) of the 403 to answer."""
        expires = query.get("Expires", "")
        signature = query.get("Signature", "")
        if not expires or not signature or query.get("OSSAccessKeyId") != self.key_id:
            return ("AccessDenied", "Anonymous access is forbidden for this operation.")
        # ASCII digits only (``"²".isdigit()`` is true), and bytes for compare_digest, which raises
        # TypeError on non-ASCII text: a tampered URL answers 403, never 500.
        good = self._signature(path, expires).encode()
        if not (expires.isascii() and expires.isdigit()) or not hmac.compare_digest(
            good, signature.encode("utf-8", "replace")
        ):
            return (
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if now > int(expires):
            return ("AccessDenied", "Request has expired.")
        return None
