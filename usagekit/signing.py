"""Request signatures for Alibaba Cloud RPC APIs: pure functions, no I/O.

* V2, ``SignatureVersion=1.0`` / ``HMAC-SHA1``: :func:`rpc_signature`.
* V3, ``ACS3-HMAC-SHA256``: :func:`acs3_authorization` (the whole ``Authorization`` header value).

Both follow the official documentation; the tests check them against the published examples and, on
random input, against the official SDK's own utilities.

>>> rpc_signature({"AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML",
...                "SignatureMethod": "HMAC-SHA1",
...                "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
...                "SignatureVersion": "1.0", "Timestamp": "2016-02-23T12:46:24Z",
...                "Version": "2014-05-26"}, "GET", "testsecret")
'OLeaidS1JvxuMvnyHOwuJ+uX5qY='
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote

__all__ = [
    "ACS3_ALGORITHM",
    "acs3_authorization",
    "acs3_canonical_request",
    "percent_encode",
    "rpc_signature",
    "rpc_string_to_sign",
    "sha256_hex",
]

ACS3_ALGORITHM = "ACS3-HMAC-SHA256"


def percent_encode(value: object) -> str:
    """RFC 3986 encoding over UTF-8: ``A-Z a-z 0-9 - _ . ~`` stay, all else ``%XX`` upper-case.

    >>> percent_encode("a b*c~/")
    'a%20b%2Ac~%2F'
    """
    return quote(str(value), safe="-_.~", encoding="utf-8")


def _canonical_query(params: Mapping[str, object]) -> str:
    return "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items(), key=lambda kv: kv[0])
    )


def rpc_string_to_sign(params: Mapping[str, object], method: str = "POST") -> str:
    """The V2 string to sign: ``METHOD&%2F&enc(canonical query)``, ``Signature`` left out."""
    canonical = _canonical_query({k: v for k, v in params.items() if k != "Signature"})
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"


def rpc_signature(params: Mapping[str, object], method: str, secret: str) -> str:
    """The V2 (HMAC-SHA1) signature of ``params`` for an RPC call sent with ``method``.

    ``params`` are all request parameters (common ones included) whether they travel in the query
    string or a form body; a ``Signature`` entry among them is ignored.
    """
    string_to_sign = rpc_string_to_sign(params, method)
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def sha256_hex(body: bytes | str = b"") -> str:
    """Hex SHA-256 of a request body, the value of ``x-acs-content-sha256``."""
    data = body.encode() if isinstance(body, str) else body
    return hashlib.sha256(data).hexdigest()


def acs3_canonical_request(
    method: str, path: str, query: Mapping[str, object], headers: Mapping[str, str]
) -> tuple[str, str]:
    """The V3 canonical request and its signed-headers list, signing every header in ``headers``.

    ``headers`` must hold ``x-acs-content-sha256``; names are compared lower-case.
    """
    lowered = {name.lower().strip(): str(value).strip() for name, value in headers.items()}
    signed = sorted(lowered)
    canonical_headers = "".join(f"{name}:{lowered[name]}\n" for name in signed)
    signed_headers = ";".join(signed)
    body_hash = lowered.get("x-acs-content-sha256", sha256_hex(b""))
    canonical = "\n".join(
        [method.upper(), path or "/", _canonical_query(query), canonical_headers, signed_headers, body_hash]
    )
    return canonical, signed_headers


def acs3_authorization(
    method: str,
    path: str,
    query: Mapping[str, object],
    headers: Mapping[str, str],
    access_key_id: str,
    secret: str,
) -> str:
    """The V3 ``Authorization`` header value for a request, signing every header given.

    >>> acs3_authorization(
    ...     "POST", "/",
    ...     {"ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd", "RegionId": "cn-shanghai"},
    ...     {"host": "ecs.cn-shanghai.aliyuncs.com", "x-acs-action": "RunInstances",
    ...      "x-acs-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ...      "x-acs-date": "2023-10-26T10:22:32Z",
    ...      "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
    ...      "x-acs-version": "2014-05-26"},
    ...     "YourAccessKeyId", "YourAccessKeySecret").rsplit("=", 1)[1]
    '06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0'
    """
    canonical, signed_headers = acs3_canonical_request(method, path, query, headers)
    string_to_sign = f"{ACS3_ALGORITHM}\n{sha256_hex(canonical)}"
    signature = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{ACS3_ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"
