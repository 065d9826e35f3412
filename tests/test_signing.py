"""Signatures against the published examples and, on random input, against the official SDK's utilities."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest
from alibabacloud_openapi_util.client import Client as Official
from hypothesis import given, settings
from hypothesis import strategies as st

from usagekit.signing import (
    acs3_authorization,
    acs3_canonical_request,
    percent_encode,
    rpc_signature,
    rpc_string_to_sign,
    sha256_hex,
)

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# Random text that is valid UTF-8 (no lone surrogates), rich in the characters encoders get wrong.
TRICKY = " *~+/=&%?#!'()[]@:;,$\"<>^`{|}\\\t-_.é中文🙂"
text = st.text(
    alphabet=st.one_of(st.sampled_from(TRICKY), st.characters(exclude_categories=("Cs",))),
    max_size=30,
)
# The V3 utility leaves query keys unencoded (real API parameter names are plain), so keep keys plain.
plain_key = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,15}", fullmatch=True)
header_name = st.from_regex(r"x-acs-[a-z][a-z0-9-]{0,12}", fullmatch=True)
secret = st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)


def test_v2_published_example() -> None:
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert rpc_signature(params, "GET", "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    # a Signature among the parameters is ignored, as the docs require
    assert rpc_signature({**params, "Signature": "x"}, "GET", "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert rpc_signature(params, "POST", "testsecret") != "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_v3_published_example() -> None:
    query = {"ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd", "RegionId": "cn-shanghai"}
    headers = {
        "host": "ecs.cn-shanghai.aliyuncs.com",
        "x-acs-action": "RunInstances",
        "x-acs-content-sha256": EMPTY_SHA256,
        "x-acs-date": "2023-10-26T10:22:32Z",
        "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
        "x-acs-version": "2014-05-26",
    }
    authorization = acs3_authorization("POST", "/", query, headers, "YourAccessKeyId", "YourAccessKeySecret")
    assert authorization == (
        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,"
        "SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
        "Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    )


def test_percent_encode_rfc3986() -> None:
    assert percent_encode("AZaz09-_.~") == "AZaz09-_.~"
    assert percent_encode(" ") == "%20"
    assert percent_encode("*") == "%2A"
    assert percent_encode("+/=") == "%2B%2F%3D"
    assert percent_encode("é") == "%C3%A9"


def test_v2_string_to_sign_shape() -> None:
    assert (
        rpc_string_to_sign({"B": "2 2", "A": "1", "Signature": "s"}, "post") == "POST&%2F&A%3D1%26B%3D2%25202"
    )


def test_v3_canonical_request_lowercases_and_trims_headers() -> None:
    canonical, signed = acs3_canonical_request(
        "post", "", {"b": "2", "a": "x y"}, {"X-Acs-Date": " t ", "Host": "h", "x-acs-content-sha256": "00"}
    )
    assert signed == "host;x-acs-content-sha256;x-acs-date"
    assert (
        canonical
        == "POST\n/\na=x%20y&b=2\nhost:h\nx-acs-content-sha256:00\nx-acs-date:t\n\n" + signed + "\n00"
    )
    assert sha256_hex("") == EMPTY_SHA256 == hashlib.sha256(b"").hexdigest()


@settings(deadline=None, max_examples=100, database=None)
@given(
    params=st.dictionaries(text.filter(bool), text, min_size=1, max_size=8),
    method=st.sampled_from(["GET", "POST"]),
    key=secret,
)
def test_v2_matches_official_utility(params: dict[str, str], method: str, key: str) -> None:
    assert rpc_signature(params, method, key) == Official.get_rpcsignature(params, method, key)


@settings(deadline=None, max_examples=100, database=None)
@given(
    query=st.dictionaries(plain_key, text, max_size=6),
    extra=st.dictionaries(header_name, text, max_size=4),
    host=st.from_regex(r"[a-z0-9.-]{1,30}(:[0-9]{1,5})?", fullmatch=True),
    body=st.binary(max_size=40),
    key_id=st.from_regex(r"[A-Za-z0-9.]{4,24}", fullmatch=True),
    key=secret,
)
def test_v3_matches_official_utility(
    query: dict[str, str], extra: dict[str, str], host: str, body: bytes, key_id: str, key: str
) -> None:
    payload = hashlib.sha256(body).hexdigest()
    headers = {
        **extra,
        "host": host,
        "x-acs-action": "DescribeUserUsageDataExportTask",
        "x-acs-version": "2018-05-10",
        "x-acs-date": "2024-01-02T03:04:05Z",
        "x-acs-signature-nonce": "0123456789abcdef",
        "x-acs-content-sha256": payload,
    }
    request = SimpleNamespace(method="POST", pathname="/", query=dict(query), headers=dict(headers))
    official = Official.get_authorization(request, "ACS3-HMAC-SHA256", payload, key_id, key)
    assert acs3_authorization("POST", "/", query, headers, key_id, key) == official


@pytest.mark.parametrize("key", ["a", "é秘密", "with space&"])
def test_secret_changes_signature(key: str) -> None:
    params = {"Action": "X"}
    assert rpc_signature(params, "POST", key) != rpc_signature(params, "POST", key + "x")
