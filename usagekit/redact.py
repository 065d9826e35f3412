"""Keeping credentials out of text: a presigned URL's query string is a credential.

Frames show download URLs with :func:`strip_query`; error messages, log lines and quoted error pages pass
through :func:`strip_queries`. Pure functions, standard library only, so the client (which knows nothing of
pandas) and the readers share them.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["strip_queries", "strip_query"]


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
