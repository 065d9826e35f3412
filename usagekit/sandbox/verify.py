"""Request verification: the sandbox's own check of V2 (HMAC-SHA1) and V3 (ACS3-HMAC-SHA256) signatures.

Deliberately independent of :mod:`usagekit.signing`: a second implementation, written from the API
reference, is what lets the sandbox catch a client's signing mistakes. Besides the signature it checks
the common parameters, the API version, the action, the access key id, the STS token, the timestamp
(against the REAL clock, 15 minutes either way) and the nonce (remembered 15 minutes per key).

Every refusal is a :class:`Rejection` carrying the API's error code and HTTP status.

>>> verifier = Verifier({"testid": Identity("demo", "testid", "testsecret")}, actions={"DescribeRegions"},
...                     version="2014-05-26", clock=lambda: 1456231584.0)
>>> params = {"AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML",
...           "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
...           "SignatureVersion": "1.0", "Timestamp": "2016-02-23T12:46:24Z", "Version": "2014-05-26",
...           "Signature": "OLeaidS1JvxuMvnyHOwuJ+uX5qY="}
>>> verifier.verify("GET", "/", list(params.items()), b"", {}, formats=None).action
'DescribeRegions'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

__all__ = ["Identity", "Rejection", "Verified", "Verifier", "parse_request_params"]

SKEW = 15 * 60  # seconds a request timestamp may be off the real clock
_TOKEN = re.compile(r"^CAIS[A-Za-z0-9+/=_-]{20,}$")
_AUTHORIZATION = re.compile(
    r"^ACS3-HMAC-SHA256\s+Credential=(?P<key>[^,\s]+)\s*,\s*SignedHeaders=(?P<headers>[^,\s]+)\s*,"
    r"\s*Signature=(?P<signature>[0-9a-fA-F]+)\s*$"
)
_V2_REQUIRED = ("AccessKeyId", "Action", "Version", "Signature", "SignatureMethod", "SignatureVersion",
                "SignatureNonce", "Timestamp")  # fmt: skip
_V3_REQUIRED = (
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
)


class Rejection(Exception):
    """A request refused with an API error ``code`` and HTTP ``status`` (never carrying a secret)."""

    def __init__(
        self,
        code: str,
        status: int,
        message: str,
        *,
        recommend: str | None = None,
        action: str | None = None,
        account: str | None = None,
    ) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.code = code
        self.status = status
        self.message = message
        self.recommend = recommend
        self.action = action
        self.account = account


@dataclass(frozen=True)
class Identity:
    """Credentials the sandbox accepts: an account name, key id, secret and (STS) token."""

    account: str
    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Verified:
    """A request that passed: who sent it, which action, its API parameters and the signing style."""

    account: str
    action: str
    params: dict[str, str]
    style: str  # "v2" or "v3"


def _encode(value: str) -> str:
    """RFC 3986 over UTF-8: unreserved characters stay, everything else ``%XX`` upper-case."""
    return quote(value, safe="-_.~", encoding="utf-8")


def parse_request_params(query: str, body: bytes, content_type: str | None) -> list[tuple[str, str]]:
    """The parameters of a request: the query string, then a form-encoded body (both merged)."""
    pairs = parse_qsl(query, keep_blank_values=True)
    if body and (content_type or "").split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return pairs


def _parse_timestamp(text: str) -> float | None:
    for pattern in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    return None


class Verifier:
    """Checks requests against the known ``identities`` (keyed by access key id).

    ``clock`` is the REAL clock (epoch seconds) that timestamps are checked against; injectable.
    """

    def __init__(
        self,
        identities: Mapping[str, Identity],
        *,
        actions: Collection[str],
        version: str = "2018-05-10",
        clock: Callable[[], float] = time.time,
        skew: float = SKEW,
        products: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        self.identities = dict(identities)
        self.actions = frozenset(actions)
        self.version = version
        #: other products' versions and their actions (BssOpenApi 2017-12-14 on the same server)
        self.products = {v: frozenset(a) for v, a in (products or {}).items()}
        self.clock = clock
        self.skew = skew
        self._nonces: dict[tuple[str, str], float] = {}
        self._nonce_lock = threading.Lock()
        self._next_prune = 0.0

    def verify(
        self,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]],
        body: bytes,
        headers: Mapping[str, str],
        *,
        query: Sequence[tuple[str, str]] | None = None,
        formats: Collection[str] | None = ("JSON", "json"),
    ) -> Verified:
        """Verify one request; ``params`` are query and form parameters merged, ``query`` the URL's alone.

        ``headers`` must be a case-insensitive mapping or have lower-case keys. ``formats`` lists the
        accepted V2 ``Format`` values (absent is always accepted; ``None`` accepts any).
        Raises :class:`Rejection` when the request is refused.
        """
        lowered = {k.lower(): v for k, v in headers.items()}
        merged = dict(params)
        authorization = lowered.get("authorization", "")
        if authorization.startswith("ACS3-"):
            return self._verify_v3(
                method, path, merged, list(query if query is not None else params), body, lowered
            )
        return self._verify_v2(method, merged, formats)

    # --- V2 ------------------------------------------------------------------------------------------

    def _verify_v2(self, method: str, params: dict[str, str], formats: Collection[str] | None) -> Verified:
        action = params.get("Action")
        for name in _V2_REQUIRED:
            if not params.get(name):
                raise Rejection(
                    "MissingParameter" if name != "Signature" else "IncompleteSignature",
                    400,
                    f"The input parameter {name} that is mandatory for processing this request is not supplied.",
                    action=action,
                )
        fmt = params.get("Format")
        if fmt is not None and formats is not None and fmt not in formats:
            raise Rejection(
                "InvalidParameter", 400, f"The sandbox answers Format=JSON only, not {fmt!r}.", action=action
            )
        identity = self._common(params["Version"], params["Action"], params["AccessKeyId"])
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            raise Rejection(
                "InvalidParameter",
                400,
                "Signature V2 needs SignatureMethod=HMAC-SHA1 and SignatureVersion=1.0.",
                action=action,
                account=identity.account,
            )
        canonical = "&".join(
            f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items()) if k != "Signature"
        )
        string_to_sign = f"{method.upper()}&{_encode('/')}&{_encode(canonical)}"
        key = (identity.access_key_secret + "&").encode()
        expected = base64.b64encode(hmac.new(key, string_to_sign.encode(), hashlib.sha1).digest()).decode()
        # As bytes: compare_digest raises TypeError on non-ASCII text, which would answer 500, not 400.
        if not hmac.compare_digest(expected.encode(), params["Signature"].encode("utf-8", "replace")):
            raise Rejection(
                "SignatureDoesNotMatch",
                400,
                "Specified signature is not matched with our calculation.",
                recommend="Sign METHOD&%2F&enc(sorted, RFC 3986 encoded parameters) with HMAC-SHA1 keyed secret+'&'.",
                action=action,
                account=identity.account,
            )
        self._finish(
            identity, params["Timestamp"], params["SignatureNonce"], params.get("SecurityToken"), action
        )
        api = {k: v for k, v in params.items() if k not in _V2_COMMON}
        return Verified(identity.account, params["Action"], api, "v2")

    # --- V3 ------------------------------------------------------------------------------------------

    def _verify_v3(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        query: list[tuple[str, str]],
        body: bytes,
        headers: dict[str, str],
    ) -> Verified:
        action = headers.get("x-acs-action")
        match = _AUTHORIZATION.match(headers["authorization"].strip())
        if match is None:
            raise Rejection(
                "IncompleteSignature",
                400,
                "The Authorization header must read ACS3-HMAC-SHA256 Credential=...,SignedHeaders=...,Signature=...",
                action=action,
            )
        for name in _V3_REQUIRED:
            if not headers.get(name):
                raise Rejection(
                    "MissingParameter",
                    400,
                    f"The header {name} that is mandatory for processing this request is not supplied.",
                    action=action,
                )
        identity = self._common(headers["x-acs-version"], headers["x-acs-action"], match["key"])
        signed = match["headers"].split(";")
        needed = {"host", *(n for n in headers if n.startswith("x-acs-"))}
        if signed != sorted(signed) or not needed <= set(signed):
            raise Rejection(
                "IncompleteSignature",
                400,
                "SignedHeaders must be sorted and include host and every x-acs-* header sent.",
                action=action,
                account=identity.account,
            )
        body_hash = hashlib.sha256(body).hexdigest()
        if headers["x-acs-content-sha256"].lower() != body_hash:
            raise Rejection(
                "SignatureDoesNotMatch",
                400,
                "x-acs-content-sha256 does not match the SHA-256 of the request body.",
                action=action,
                account=identity.account,
            )
        canonical_query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(query))
        canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
        canonical = "\n".join(
            [
                method.upper(),
                path or "/",
                canonical_query,
                canonical_headers,
                ";".join(signed),
                headers["x-acs-content-sha256"],
            ]
        )
        string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
        expected = hmac.new(
            identity.access_key_secret.encode(), string_to_sign.encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, match["signature"].lower()):
            raise Rejection(
                "SignatureDoesNotMatch",
                400,
                "Specified signature is not matched with our calculation.",
                recommend="Rebuild the canonical request from the SignedHeaders you sent; the key is the secret alone.",
                action=action,
                account=identity.account,
            )
        self._finish(
            identity,
            headers["x-acs-date"],
            headers["x-acs-signature-nonce"],
            headers.get("x-acs-security-token"),
            action,
        )
        return Verified(identity.account, headers["x-acs-action"], dict(params), "v3")

    # --- shared --------------------------------------------------------------------------------------

    def _common(self, version: str, action: str, key_id: str) -> Identity:
        actions = self.products.get(version, self.actions)
        if version != self.version and version not in self.products:
            raise Rejection(
                "InvalidVersion",
                400,
                f"Specified parameter Version {version!r} is not valid; use {self.version}.",
                action=action,
            )
        if action not in actions:
            raise Rejection(
                "InvalidAction.NotFound",
                404,
                f"Specified api {action!r} is not found, please check your url and method.",
                action=action,
            )
        identity = self.identities.get(key_id)
        if identity is None:
            raise Rejection(
                "InvalidAccessKeyId.NotFound", 404, "Specified access key is not found.", action=action
            )
        return identity

    def _finish(
        self, identity: Identity, timestamp: str, nonce: str, token: str | None, action: str | None
    ) -> None:
        who = {"action": action, "account": identity.account}
        moment = _parse_timestamp(timestamp)
        if moment is None:
            raise Rejection(
                "InvalidTimeStamp.Format",
                400,
                "Specified time stamp is not in the format yyyy-MM-ddTHH:mm:ssZ.",
                **who,
            )
        now = self.clock()
        if abs(now - moment) > self.skew:
            raise Rejection(
                "InvalidTimeStamp.Expired",
                400,
                "Specified time stamp or date value is expired (more than 15 minutes off).",
                recommend="Check the clock of the machine that signs the request.",
                **who,
            )
        if identity.security_token is not None or token:
            if not token or not _TOKEN.match(token):
                raise Rejection(
                    "InvalidSecurityToken.Malformed",
                    400,
                    "The security token is missing or malformed.",
                    **who,
                )
            if identity.security_token is None or not hmac.compare_digest(token, identity.security_token):
                raise Rejection(
                    "InvalidSecurityToken.MismatchWithAccessKey",
                    400,
                    "The security token does not belong to this access key id.",
                    **who,
                )
        with self._nonce_lock:
            if now >= self._next_prune:
                self._nonces = {k: v for k, v in self._nonces.items() if v > now}
                self._next_prune = now + 60
            seen = self._nonces.get((identity.access_key_id, nonce))
            if seen is not None and seen > now:
                raise Rejection(
                    "SignatureNonceUsed", 400, "Specified signature nonce was used already.", **who
                )
            self._nonces[(identity.access_key_id, nonce)] = now + self.skew


_V2_COMMON = frozenset(
    {"Action", "Version", "Format", "AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion",
     "SignatureNonce", "SignatureType", "Timestamp", "SecurityToken", "RegionId"}
)  # fmt: skip
