"""The official SDK calls DescribeCdnUserBillHistory and DescribeCdnUserBillPrediction on the sandbox, unchanged."""

from __future__ import annotations

from typing import Any

import alibabacloud_cdn20180510.client as cdn  # the official SDK: the `test` extra installs it
import alibabacloud_cdn20180510.models as models
import alibabacloud_tea_openapi.models as openapi
import pandas as pd
import pytest

from usagekit.sandbox import Sandbox
from usagekit.sandbox.billrules import BILL_METHODS

# October 2026 in Beijing time, as UTC; the sandbox's now is 2026-11-20T08:00:00Z (16:00 Beijing)
OCTOBER = ("2026-09-30T16:00:00Z", "2026-10-31T16:00:00Z")
PINNED = {"demo-shop": "month_95", "demo-media": "day_bandwidth", "demo-games": "hour_flow"}
FIELD = {"month_95": "bandwidth", "day_bandwidth": "bandwidth", "hour_flow": "flow"}


def _client(box: Sandbox, account: Any, algorithm: str | None, secret: str | None = None) -> Any:
    config = openapi.Config(
        access_key_id=account.access_key_id,
        access_key_secret=secret or account.access_key_secret,
        security_token=account.security_token,
        endpoint=box.endpoint.removeprefix("http://"),
        protocol="http",
    )
    if algorithm is not None:
        config.signature_algorithm = algorithm  # "v2": HMAC-SHA1 RPC signatures
    return cdn.Client(config)


@pytest.fixture(scope="module")
def pinned() -> Any:
    with Sandbox(seed=7, now="2026-11-20T08:00:00Z", clock="frozen", bill_types=PINNED) as box:
        yield box


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["v3-default", "v2"])
def test_the_sdk_reads_a_months_bill_history(pinned: Sandbox, algorithm: str | None) -> None:
    for account in pinned.accounts:  # demo-media carries an STS token
        method = PINNED[account.name]
        body = (
            _client(pinned, account, algorithm)
            .describe_cdn_user_bill_history(
                models.DescribeCdnUserBillHistoryRequest(start_time=OCTOBER[0], end_time=OCTOBER[1])
            )
            .body
        )
        assert body.request_id
        items = body.bill_history_data.bill_history_data_item
        truth = pinned.truth.billed(account.name, method, "2026-10")
        # one item per billed period: 1 month, 31 days, 744 hours
        assert len(items) == {"month_95": 1, "day_bandwidth": 31, "hour_flow": 744}[method]
        assert [i.bill_time for i in items] == sorted(
            truth["period_start"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").unique()
        )
        assert {(i.bill_type, i.dimension) for i in items} == {(method, "flow")}
        got = sorted(
            (i.bill_time, d.cdn_region, d.charge_type, getattr(d, FIELD[method]))
            for i in items
            for d in i.billing_data.billing_data_item
        )
        expected = sorted(
            (t.strftime("%Y-%m-%dT%H:%M:%SZ"), r, c, q)
            for t, r, c, q in zip(
                truth["period_start"], truth["region"], truth["charge_type"], truth["quantity"], strict=True
            )
        )
        assert got == expected
        assert all(isinstance(d.bandwidth, float) for i in items for d in i.billing_data.billing_data_item)


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["v3-default", "v2"])
def test_the_sdk_reads_the_prediction(pinned: Sandbox, algorithm: str | None) -> None:
    shop = pinned.accounts[0]
    body = (
        _client(pinned, shop, algorithm)
        .describe_cdn_user_bill_prediction(models.DescribeCdnUserBillPredictionRequest(dimension="flow"))
        .body
    )
    assert (body.bill_type, body.start_time, body.end_time) == (
        "month_95",
        "2026-10-31T16:00:00Z",  # 1 November 00:00 Beijing
        "2026-11-20T06:00:00Z",  # two hours before now
    )
    (item,) = body.bill_prediction_data.bill_prediction_data_item
    truth = pinned.truth.bill_prediction("demo-shop").iloc[0]
    assert (item.area, item.value) == ("CN", truth.quantity)
    assert pd.Timestamp(item.time_stp) == truth["at"]
    # a daily method is not predicted (the service predicts monthly methods only): no items, still parsed
    media = _client(pinned, pinned.accounts[1], algorithm).describe_cdn_user_bill_prediction(
        models.DescribeCdnUserBillPredictionRequest(start_time="2026-10-31T16:00:00Z", area="CN,OverSeas")
    )
    assert media.body.bill_type == "day_bandwidth"
    assert media.body.bill_prediction_data.bill_prediction_data_item == []


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["v3-default", "v2"])
def test_the_sdk_meets_the_services_refusals(pinned: Sandbox, algorithm: str | None) -> None:
    account = pinned.accounts[2]
    forged = _client(pinned, account, algorithm, secret="wrong-secret")
    with pytest.raises(Exception) as caught:
        forged.describe_cdn_user_bill_history(
            models.DescribeCdnUserBillHistoryRequest(start_time=OCTOBER[0], end_time=OCTOBER[1])
        )
    assert getattr(caught.value, "code", None) == "SignatureDoesNotMatch"
    client = _client(pinned, account, algorithm)
    with pytest.raises(Exception) as caught:
        client.describe_cdn_user_bill_history(
            models.DescribeCdnUserBillHistoryRequest(
                start_time="2026-09-30T16:00:00Z", end_time="2026-11-01T16:00:00Z"
            )
        )
    assert getattr(caught.value, "code", None) == "InvalidTimeRange"
    with pytest.raises(Exception) as caught:
        client.describe_cdn_user_bill_prediction(
            models.DescribeCdnUserBillPredictionRequest(start_time="2026-11-01")
        )
    assert getattr(caught.value, "code", None) == "InvalidStartTime.Malformed"


def test_the_sdk_parses_the_replies_of_every_method() -> None:
    for method in BILL_METHODS:
        with Sandbox(
            seed=7, now="2026-11-20T08:00:00Z", clock="frozen", bill_types={"demo-games": method}
        ) as box:
            client = _client(box, box.accounts[2], None)  # demo-games: CN, AP1, EU, NA
            history = client.describe_cdn_user_bill_history(
                models.DescribeCdnUserBillHistoryRequest(start_time=OCTOBER[0], end_time=OCTOBER[1])
            ).body.bill_history_data.bill_history_data_item
            truth = box.truth.billed("demo-games", method, "2026-10")
            parsed = [d for i in history for d in i.billing_data.billing_data_item]
            assert len(parsed) == len(truth) > 0, method
            figures = [(d.flow, d.bandwidth, d.count) for d in parsed]
            assert sorted(sum(figures, ())) == sorted([0.0, 0.0] * len(truth) + truth["quantity"].tolist())
            prediction = client.describe_cdn_user_bill_prediction(
                models.DescribeCdnUserBillPredictionRequest()
            )
            items = prediction.body.bill_prediction_data.bill_prediction_data_item
            assert prediction.body.bill_type == method
            assert len(items) == (len(truth["region"].unique()) if method.startswith("month_") else 0), method
