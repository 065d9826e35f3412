"""``DescribeUserDomains`` as the sandbox answers it: an account's domains, paged, from its world.

Request and reply shapes are the official SDK's (``alibabacloud_cdn20180510``'s
``DescribeUserDomainsRequest`` and ``DescribeUserDomainsResponseBody``): ``PageSize`` 1..500 (default 20),
``PageNumber`` 1..100000 (default 1), the optional filters ``DomainName`` (with ``DomainSearchType``
``full_match``, the default, ``fuzzy_match``, ``pre_match`` or ``suf_match``), ``DomainStatus`` and
``CdnType``; the reply ``{Domains: {PageData: [...]}, PageNumber, PageSize, TotalCount}``.

The sandbox's own rules where the service's are unknown: domains in the account's order; a page past
the end is empty and carries the true ``TotalCount``; an idle domain (no traffic) is ``offline``, every
other one ``online``; ``Coverage`` is ``domestic`` for an account billed in the mainland only, else
``global``; ids, times, origins and the rest are seeded and stable.

>>> from usagekit.sandbox.world import AccountSpec, DomainSpec
>>> spec = AccountSpec(0, "demo-shop", "LTAIexample", "x", domains=(DomainSpec("a.example"), DomainSpec("b.example", idle=True)))
>>> reply = describe_user_domains(7, spec, {"PageSize": "1", "PageNumber": "2"})
>>> reply["TotalCount"], [(d["DomainName"], d["DomainStatus"]) for d in reply["Domains"]["PageData"]]
(2, [('b.example', 'offline')])
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from usagekit.sandbox.verify import Rejection
from usagekit.sandbox.world import AccountSpec, DomainSpec, stable_rng

__all__ = ["ACTION", "describe_user_domains", "domain_item"]

ACTION = "DescribeUserDomains"
STATUSES = (
    "online",
    "offline",
    "configuring",
    "configure_failed",
    "checking",
    "check_failed",
    "stopping",
    "deleting",
)
SEARCH_TYPES = ("full_match", "fuzzy_match", "pre_match", "suf_match")
CDN_TYPES = ("web", "download", "video")
_MAX_PAGE_SIZE = 500


def _whole(params: dict[str, str], name: str, default: int, high: int) -> int:
    text = (params.get(name) or "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= high:
        raise Rejection(
            "InvalidParameter", 400, f"The specified parameter {name} must be a whole number in 1..{high}."
        )
    return int(text)


def domain_item(seed: int, spec: AccountSpec, domain: DomainSpec) -> dict[str, Any]:
    """One ``PageData`` item: the domain as the service describes it (seeded details)."""
    rng = stable_rng(seed, spec.name, domain.name, "domain-details")
    created = (
        datetime(2024, 1, 1, tzinfo=UTC).timestamp() + rng.randint(0, 500) * 86_400 + rng.randint(0, 86_399)
    )
    modified = created + rng.randint(0, 200) * 86_400 + rng.randint(0, 86_399)
    origin_port = rng.choice((80, 443))
    return {
        "CdnType": rng.choice(CDN_TYPES),
        "Cname": f"{domain.name}.w.kunlunsl.com",
        "Coverage": "domestic" if spec.regions == ("CN",) else "global",
        "Description": "",
        "DomainId": rng.randint(10**8, 10**9 - 1),
        "DomainName": domain.name,
        "DomainStatus": "offline" if domain.idle else "online",
        "GmtCreated": datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "GmtModified": datetime.fromtimestamp(modified, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ResourceGroupId": "rg-" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=15)),
        "Sandbox": "normal",
        "Sources": {
            "Source": [
                {
                    "Content": f"origin-{rng.randint(1, 9)}.{domain.name.split('.', 1)[-1]}",
                    "Port": origin_port,
                    "Priority": "20",
                    "Type": "domain",
                    "Weight": "10",
                }
            ]
        },
        "SslProtocol": "on" if origin_port == 443 else "off",
    }


def _matches(name: str, wanted: str, how: str) -> bool:
    if how == "fuzzy_match":
        return wanted in name
    if how == "pre_match":
        return name.startswith(wanted)
    if how == "suf_match":
        return name.endswith(wanted)
    return name == wanted


def _chosen(seed: int, spec: AccountSpec, params: dict[str, str]) -> list[dict[str, Any]]:
    how = (params.get("DomainSearchType") or "full_match").strip()
    if how not in SEARCH_TYPES:
        raise Rejection(
            "InvalidParameter", 400, f"DomainSearchType must be one of {', '.join(SEARCH_TYPES)}."
        )
    status = (params.get("DomainStatus") or "").strip()
    if status and status not in STATUSES:
        raise Rejection("InvalidParameter", 400, f"DomainStatus must be one of {', '.join(STATUSES)}.")
    types = {t.strip() for t in (params.get("CdnType") or "").split(",") if t.strip()}
    if types - set(CDN_TYPES):
        raise Rejection("InvalidParameter", 400, f"CdnType holds values other than {', '.join(CDN_TYPES)}.")
    wanted = (params.get("DomainName") or "").strip()
    items = [domain_item(seed, spec, domain) for domain in spec.domains]
    return [
        item
        for item in items
        if (not wanted or _matches(item["DomainName"], wanted, how))
        and (not status or item["DomainStatus"] == status)
        and (not types or item["CdnType"] in types)
    ]


def describe_user_domains(seed: int, spec: AccountSpec, params: dict[str, str]) -> dict[str, Any]:
    """The reply body (without ``RequestId``) of ``DescribeUserDomains`` for account ``spec``."""
    size = _whole(params, "PageSize", 20, _MAX_PAGE_SIZE)
    number = _whole(params, "PageNumber", 1, 100_000)
    items = _chosen(seed, spec, params)
    page = items[(number - 1) * size : number * size]
    return {"Domains": {"PageData": page}, "PageNumber": number, "PageSize": size, "TotalCount": len(items)}
