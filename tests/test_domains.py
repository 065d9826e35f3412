"""list_domains and the sandbox's DescribeUserDomains, checked by the official SDK (an independent client)."""

from __future__ import annotations

from typing import Any

import alibabacloud_cdn20180510.client as cdn  # the official SDK: the `test` extra installs it
import alibabacloud_cdn20180510.models as models
import alibabacloud_tea_openapi.models as openapi
import pandas as pd
import pytest

import usagekit
from usagekit.errors import ArgumentError, InvalidParameterError
from usagekit.sandbox import Sandbox


def _client(box: Sandbox, account: Any, algorithm: str | None) -> Any:
    config = openapi.Config(
        access_key_id=account.access_key_id,
        access_key_secret=account.access_key_secret,
        security_token=account.security_token,
        endpoint=box.endpoint.removeprefix("http://"),
        protocol="http",
    )
    if algorithm is not None:
        config.signature_algorithm = algorithm
    return cdn.Client(config)


def _sdk_domains(client: Any, page_size: int) -> tuple[list[Any], list[int]]:
    items, totals, number = [], [], 1
    while True:
        body = client.describe_user_domains(
            models.DescribeUserDomainsRequest(page_size=page_size, page_number=number)
        ).body
        totals.append(body.total_count)
        items += body.domains.page_data
        if number * page_size >= body.total_count:
            return items, totals
        number += 1


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["v3-default", "v2"])
def test_the_official_sdk_pages_through_the_sandbox_domains(
    fresh_sandbox: Any, algorithm: str | None
) -> None:
    box = fresh_sandbox(domains=(5, 7))
    for account in box.accounts:
        spec = box.account_spec(account.name)
        items, totals = _sdk_domains(_client(box, account, algorithm), page_size=2)
        assert [i.domain_name for i in items] == list(spec.domain_names)  # every page, in order, once
        assert set(totals) == {len(spec.domains)}
        idle = {d.name for d in spec.domains if d.idle}
        assert {i.domain_name for i in items if i.domain_status == "offline"} == idle
        first = items[0]
        assert first.sources.source[0].port in (80, 443) and isinstance(first.domain_id, int)


def test_list_domains_gives_what_the_sdk_gives(sandbox: Sandbox) -> None:
    frame = usagekit.list_domains(sandbox.accounts)
    assert frame.columns.tolist() == [
        "account", "domain", "status", "cdn_type", "coverage", "cname", "domain_id", "created",
        "modified", "resource_group",
    ]  # fmt: skip
    assert str(frame["created"].dtype) == "datetime64[ns, UTC]"
    assert frame["account"].dtype == "category" and frame["cname"].dtype == pd.StringDtype()
    for account in sandbox.accounts:
        items, _ = _sdk_domains(_client(sandbox, account, None), page_size=500)
        mine = frame[frame["account"] == account.name]
        expected = sorted(
            (
                i.domain_name, i.domain_status, i.cdn_type, i.coverage, i.cname, str(i.domain_id),
                pd.Timestamp(i.gmt_created), pd.Timestamp(i.gmt_modified), i.resource_group_id,
            )
            for i in items
        )  # fmt: skip
        got = [tuple(row[1:]) for row in mine.itertuples(index=False)]
        assert got == expected


def test_list_domains_walks_every_page(fresh_sandbox: Any) -> None:
    box = fresh_sandbox(accounts=1, domains=(500, 500))
    frame = usagekit.list_domains(box.accounts)
    assert len(frame) == 500 and frame["domain"].is_unique
    assert [r["params"].get("PageSize") for r in box.requests if r["action"] == "DescribeUserDomains"] == [
        "500"
    ]


def test_bad_page_size_and_filters_are_refused_as_the_service_refuses(sandbox: Sandbox) -> None:
    client = _client(sandbox, sandbox.accounts[0], None)
    with pytest.raises(Exception) as caught:
        client.describe_user_domains(models.DescribeUserDomainsRequest(page_size=501))
    assert getattr(caught.value, "code", None) == "InvalidParameter"
    spec = sandbox.account_spec(sandbox.accounts[0].name)
    name = spec.domain_names[0]
    body = client.describe_user_domains(
        models.DescribeUserDomainsRequest(
            domain_name=name.split(".")[0] + ".", domain_search_type="pre_match"
        )
    ).body
    assert [i.domain_name for i in body.domains.page_data] == [name]
    ours = usagekit.CdnClient(sandbox.accounts[0])
    try:
        with pytest.raises(InvalidParameterError):
            ours.call("DescribeUserDomains", PageNumber=0)
    finally:
        ours.close()


def test_an_empty_accounts_list_is_an_argument_error_before_any_request(sandbox: Sandbox) -> None:
    before = len(sandbox.requests)
    with pytest.raises(ArgumentError, match="empty"):
        usagekit.list_domains([])
    assert len(sandbox.requests) == before
