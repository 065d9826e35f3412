"""Keeping credentials out of text: a presigned URL's query string is a credential.

Frames show download URLs with :func:`strip_query`. Every message built from a reply (the client's, the
downloads', the readers') passes through :func:`redact`: URL queries stripped, presigned query values and
signing fields masked wherever they stand (with or without a URL in front), the caller's known secrets masked,
and only then cut to length, so a cut never leaves the first part of a token behind. Pure functions,
standard library only, so the client (which knows nothing of pandas) and the readers share them.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["MASK", "redact", "strip_queries", "strip_query"]

#: what a masked value becomes
MASK = "***"


def strip_query(url: str | None) -> str | None:
    """A URL without its query string and fragment: enough to see the file, never the credential.

    >>> strip_query("https://bucket.oss.example.com/export/123.xlsx?Expires=1&Signature=abc")
    'https://bucket.oss.example.com/export/123.xlsx'
    >>> strip_query("") is None
    True
    """
    if not url:
        return None
    if "@" not in url:  # the common case, without parsing: listings strip thousands of URLs
        return url.partition("#")[0].partition("?")[0]
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))


#: a URL or path followed by a query string (``https://h/p?a=b``, ``"GET /?Action=... HTTP/1.1"``);
#: the query ends at whitespace, a quote or an angle bracket (never raw in a URL)
_URL_WITH_QUERY = re.compile(r"((?:[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#'\"<>]*)?/[^\s?#'\"<>]*)\?[^\s'\"<>]*")


def strip_queries(text: str, marker: str = "") -> str:
    """``text`` with the query string of every URL or path in it removed (``marker`` put in its place).

    Error messages, log lines and error pages quote URLs; a presigned URL's query is a credential.

    >>> strip_queries("GET https://b.example.com/f.xlsx?Expires=1&Signature=x failed; url: /?Action=A")
    'GET https://b.example.com/f.xlsx failed; url: /'
    >>> strip_queries('<a href="/f.xlsx?sig=1">', marker="?…")
    '<a href="/f.xlsx?…">'
    """
    return _URL_WITH_QUERY.sub(lambda match: match[1] + marker, text)


#: presigned-URL and signing fields: ``name=value`` (query style), ``<name>value</name>`` (object storage's
#: XML errors quote what they checked) and ``"name": "value"`` (JSON)
_FIELD_NAMES = (
    r"Signature|SignatureProvided|Expires|OSSAccessKeyId|AccessKeyId|AccessKeySecret|security-token|"
    r"SecurityToken|StringToSign|StringToSignBytes|x-oss-[A-Za-z0-9-]+|X-Amz-[A-Za-z0-9-]+|x-acs-security-token"
)
_QUERY_FIELD = re.compile(rf"(?i)(?<![A-Za-z0-9_-])({_FIELD_NAMES})(=|%3D)[^&\s'\"<>]*")
_XML_FIELD = re.compile(rf"(?is)<({_FIELD_NAMES})>.*?(</\1>|$)")
_JSON_FIELD = re.compile(rf'(?i)"({_FIELD_NAMES})"(\s*:\s*)"(?:[^"\\]|\\.)*("|$)')


def redact(text: str, secrets: tuple[str, ...] | list[str] = (), limit: int | None = None) -> str:
    """``text`` safe to show: URL queries removed, signing fields and ``secrets`` masked, then cut to ``limit``.

    Masking comes before cutting, so a secret that the cut would have split is masked whole.

    >>> redact("denied: Signature=abc%2B&OSSAccessKeyId=LTAIxyz for https://b.example.com/f?Expires=1")
    'denied: Signature=***&OSSAccessKeyId=*** for https://b.example.com/f'
    >>> redact("<Error><SignatureProvided>abc</SignatureProvided></Error>")
    '<Error><SignatureProvided>***</SignatureProvided></Error>'
    >>> redact("token sts-0123456789 expired", secrets=["sts-0123456789"], limit=12)
    'token *** e…'
    """
    text = strip_queries(text)
    if "=" in text or "<" in text or '"' in text:
        text = _QUERY_FIELD.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
        text = _XML_FIELD.sub(lambda m: f"<{m[1]}>{MASK}{m[2]}", text)
        text = _JSON_FIELD.sub(lambda m: f'"{m[1]}"{m[2]}"{MASK}{m[3]}', text)
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text
