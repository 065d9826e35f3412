"""Bill lines in money: BssOpenApi DescribeInstanceBill, the sandbox's answers checked by the official SDK."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import alibabacloud_bssopenapi20171214.client as bss_sdk  # the official SDK: the `test` extra installs it
import alibabacloud_bssopenapi20171214.models as bss_models
import alibabacloud_tea_openapi.models as openapi
import pytest

from usagekit.accounts import Account
from usagekit.bss import BssClient, bill_lines
from usagekit.errors import ArgumentError, IncompleteListingError
from usagekit.sandbox import Sandbox

NOW = "2026-11-20T08:00:00Z"  # October 2026 is closed, its bill final (after 12:00 Beijing on Nov 3rd)


def _sdk(box: Sandbox, account: Any) -> Any:
    config = openapi.Config(
        access_key_id=account.access_key_id,
        access_key_secret=account.access_key_secret,
        security_token=account.security_token,
        endpoint=box.endpoint.removeprefix("http://"),
        protocol="http",
    )
    return bss_sdk.Client(config)


def _request(**fields: Any) -> Any:
    base = {"billing_cycle": "2026-10", "product_code": "cdn", "is_billing_item": True}
    return bss_models.DescribeInstanceBillRequest(**{**base, **fields})


@pytest.fixture(scope="module")
def split_box() -> Any:
    # hour_flow bills each Beijing day once per region; 301 lines per charge: any day has more than 300
    with Sandbox(
        seed=5,
        now=NOW,
        clock="frozen",
        accounts=1,
        tasks=2,
        bill_types={"demo-shop": "hour_flow"},
        bill_split=301,
    ) as box:
        yield box


def test_the_official_sdk_pages_a_day_of_over_300_lines_and_gets_what_bill_lines_gives(
    split_box: Sandbox,
) -> None:
    account = split_box.accounts[0]
    client = _sdk(split_box, account)
    items, token, pages = [], None, 0
    while True:
        body = client.describe_instance_bill(
            _request(granularity="DAILY", billing_date="2026-10-12", max_results=300, next_token=token)
        ).body
        assert body.success and body.data.billing_cycle == "2026-10"
        items += body.data.items
        pages += 1
        token = body.data.next_token
        if not token:
            break
    assert pages >= 2 and len(items) == body.data.total_count > 300
    lines = bill_lines(account, month="2026-10", now=NOW)
    day = lines[lines["billing_date"] == "2026-10-12"].reset_index(drop=True)
    assert len(day) == len(items)
    money = {
        "gross": "pretax_gross_amount",
        "net": "pretax_amount",
        "deducted_by_coupons": "deducted_by_coupons",
        "deducted_by_resource_package": "deducted_by_resource_package",
        "invoice_discount": "invoice_discount",
    }
    text = {
        "billing_date": "billing_date",
        "instance_id": "instance_id",
        "region": "region",
        "billing_item": "billing_item",
        "billing_item_code": "billing_item_code",
        "usage_unit": "usage_unit",
        "list_price_unit": "list_price_unit",
        "currency": "currency",
        "item": "item",
    }
    for row, item in zip(day.itertuples(index=False), items, strict=True):
        for column, field in text.items():
            assert str(getattr(row, column)) == getattr(item, field), (column, row, item)
        for column, field in money.items():  # the SDK's float, by its shortest repr, is the reply's text
            assert getattr(row, column) == Decimal(repr(getattr(item, field))), (column, row, item)
        assert row.usage == Decimal(item.usage) and row.list_price == Decimal(item.list_price)
        assert row.account_id == body.data.account_id and row.final


def test_refusals_as_the_service_refuses(split_box: Sandbox) -> None:
    account = split_box.accounts[0]
    client = _sdk(split_box, account)
    first = client.describe_instance_bill(
        _request(granularity="DAILY", billing_date="2026-10-12", max_results=300)
    ).body.data
    assert first.next_token
    cases = [
        (
            _request(
                granularity="DAILY", billing_date="2026-10-13", max_results=300, next_token=first.next_token
            ),
            "InvalidParameter",
        ),
        (
            _request(granularity="DAILY", billing_date="2026-10-12", max_results=300, next_token="1.forged"),
            "InvalidParameter",
        ),
        (_request(granularity="DAILY", billing_date="2026-10-12", max_results=301), "InvalidParameter"),
        (_request(granularity="DAILY", max_results=300), "MissingParameter"),
    ]
    for request, code in cases:
        with pytest.raises(Exception) as caught:
            client.describe_instance_bill(request)
        assert getattr(caught.value, "code", None) == code, (request.to_map(), caught.value)


def test_a_month_of_lines_sums_to_the_cent_to_the_sandboxs_total() -> None:
    with Sandbox(seed=11, now=NOW, clock="frozen", accounts=2, tasks=2, bill_split=3) as box:
        lines = bill_lines(box.accounts, month="2026-10", now=NOW)
        assert str(lines["gross"].dtype) == "decimal128(18, 8)[pyarrow]"
        for account in box.accounts:
            mine = lines[lines["account"] == account.name]
            # the sandbox's total, in this test's own decimal arithmetic: its charges to the cent, plus the
            # refunds and adjustments it wrote on its lines
            charges = box.instance_bills.charges(account.name, "2026-10")
            extra = [
                Decimal(repr(item["PretaxGrossAmount"]))
                for item in box.instance_bills.lines(account.name, "2026-10")
                if item["Item"] != "PayAsYouGoBill"
            ]
            total = sum((c.gross for c in charges), Decimal(0)) + sum(extra, Decimal(0))
            assert mine["gross"].sum() == total
            assert sum(mine["gross"].tolist(), Decimal(0)) == total  # row by row, exact too
            deductions = mine["deducted_by_coupons"].sum() + mine["deducted_by_resource_package"].sum()
            assert mine["net"].sum() == total - deductions
            assert set(mine["item"]) >= {"PayAsYouGoBill"} and mine["final"].all()


def test_lines_appear_a_day_after_usage_and_are_final_after_noon_on_the_3rd() -> None:
    with Sandbox(
        seed=5,
        now="2026-11-02T17:00:00Z",
        clock="frozen",
        accounts=1,
        tasks=2,
        bill_types={"demo-shop": "hour_flow"},
    ) as box:
        account = box.accounts[0]
        november = bill_lines(account, month="2026-11", now="2026-11-03T01:00:00+08:00")
        # Nov 3rd 01:00 Beijing: Nov 1st's lines are out (a day after it ended), Nov 2nd's not yet
        assert set(november["billing_date"]) == {"2026-11-01"} and not november["final"].any()
        october = bill_lines(account, month="2026-10", granularity="monthly", now="2026-11-03T11:59:59+08:00")
        assert october["billing_date"].isna().all() and not october["final"].any()
        box.advance(11 * 3600)  # 12:00 Beijing on the 3rd
        assert bill_lines(account, month="2026-10", granularity="monthly", now=box.now)["final"].all()


def test_a_listing_that_comes_back_short_is_an_error_not_a_short_frame(
    split_box: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = split_box.instance_bills.handle

    def short(account: str, params: dict[str, str]) -> dict[str, Any]:
        reply = real(account, params)
        reply["Data"]["TotalCount"] += 1  # the service says there is one more than it sent
        return reply

    monkeypatch.setitem(split_box._api.handlers, "DescribeInstanceBill", short)
    with pytest.raises(IncompleteListingError, match="TotalCount"):
        bill_lines(split_box.accounts[0], month="2026-10", granularity="monthly", now=NOW)


def test_arguments_are_checked_before_any_request_and_the_site_picks_the_endpoint() -> None:
    account = Account("shop", "LTAIexample-0000KlMn", "s", endpoint="http://127.0.0.1:9")
    for bad in ({"month": "2026-13"}, {"month": "2026-10", "granularity": "hourly"}, {"month": "Oct 2026"}):
        with pytest.raises(ArgumentError):
            bill_lines(account, **bad)  # port 9: a request would fail with a TransportError instead
    with pytest.raises(ArgumentError):
        bill_lines([], month="2026-10")
    assert (
        BssClient(Account("a", "LTAIexample-0000KlMn", "s")).endpoint_url == "https://business.aliyuncs.com"
    )
    intl = Account("a", "LTAIexample-0000KlMn", "s", site="international")
    assert BssClient(intl).endpoint_url == "https://business.ap-southeast-1.aliyuncs.com"
    own = Account("a", "LTAIexample-0000KlMn", "s", site="international", bss_endpoint="http://127.0.0.1:7")
    assert BssClient(own).endpoint_url == "http://127.0.0.1:7"
    with pytest.raises(ValueError, match="site"):
        Account("a", "LTAIexample-0000KlMn", "s", site="mars")


def test_the_site_comes_from_the_profile(tmp_path: Any) -> None:
    import json

    from usagekit.accounts import discover_accounts

    (tmp_path / ".aliyun").mkdir()
    profile = {"mode": "AK", "access_key_id": "LTAIexample-0000KlMn", "access_key_secret": "s"}
    profiles = [
        {"name": "intl", **profile, "site": "international"},
        {"name": "cn", **profile},
        {"name": "odd", **profile, "site": "moon"},
    ]
    (tmp_path / ".aliyun" / "config.json").write_text(json.dumps({"profiles": profiles}))
    (tmp_path / ".alibabacloud").mkdir()
    (tmp_path / ".alibabacloud" / "credentials").write_text(
        "[ini-intl]\ntype = access_key\naccess_key_id = LTAIexample-0000KlMn\naccess_key_secret = s\n"
        "site = international\n"
    )
    for path in (tmp_path / ".aliyun" / "config.json", tmp_path / ".alibabacloud" / "credentials"):
        path.chmod(0o600)
    with pytest.warns(UserWarning, match="moon"):
        found = {a.name: a for a in discover_accounts(environ={}, home=tmp_path)}
    assert found["intl"].site == "international" and found["ini-intl"].site == "international"
    assert found["cn"].site == "china" and "odd" not in found
    assert BssClient(found["intl"]).endpoint_url == "https://business.ap-southeast-1.aliyuncs.com"


def test_each_product_answers_its_own_actions_whatever_the_signature(split_box: Sandbox) -> None:
    from usagekit.client import CdnClient
    from usagekit.errors import ApiError

    account = split_box.accounts[0]
    params = {"BillingCycle": "2026-10", "Granularity": "MONTHLY", "MaxResults": 300, "IsBillingItem": True}
    with BssClient(account, signature="v2") as v2:
        assert v2.call("DescribeInstanceBill", **params)["Data"]["TotalCount"] > 0
    with CdnClient(account) as cdn, pytest.raises(ApiError) as caught:  # the CDN version has no such action
        cdn.call("DescribeInstanceBill", **params)
    assert caught.value.code == "InvalidAction.NotFound"
    with BssClient(account) as bss, pytest.raises(ApiError) as caught:  # nor BssOpenApi's a CDN one
        bss.call("DescribeUserUsageDataExportTask")
    assert caught.value.code == "InvalidAction.NotFound"
    # the month at once (MONTHLY) is the days summed, exactly
    daily = bill_lines(account, month="2026-10", now=NOW)
    monthly = bill_lines(account, month="2026-10", granularity="monthly", now=NOW)
    assert monthly["gross"].sum() == daily["gross"].sum() and monthly["billing_date"].isna().all()


def test_bill_lines_stay_within_bssopenapis_10_calls_a_second() -> None:
    from usagekit.sandbox import Faults

    # the sandbox refuses an account's 11th call within a second (Throttling.User, recorded); the CDN's own
    # bucket (90/s) would burst past it, BssOpenApi's (10/s) never does, however fast the machine
    with Sandbox(seed=5, now=NOW, clock="frozen", accounts=1, tasks=2, faults=Faults(rate_limit=10)) as box:
        lines = bill_lines(box.accounts, month="2026-10", now=NOW)
        calls = [r for r in box.requests if r["action"] == "DescribeInstanceBill"]
    assert len(lines) > 0 and len(calls) >= 31
    assert [r for r in calls if r["code"] == "Throttling.User"] == []
