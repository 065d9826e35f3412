"""Billing through the sandbox: DescribeCdnUserBillType answered strictly, and bills from real workbooks."""

from __future__ import annotations

from typing import Any

import alibabacloud_cdn20180510.client as cdn
import alibabacloud_cdn20180510.models as models
import alibabacloud_tea_openapi.models as openapi
import pandas as pd
import pytest

import usagekit
from usagekit.billing import METHODS, billing_quantities, compare_billing
from usagekit.billtypes import bill_types
from usagekit.errors import InvalidParameterError
from usagekit.frames import tidy_frame
from usagekit.sandbox import Sandbox

ACTION = "DescribeCdnUserBillType"
# The bill type each demo account of seed 7 is on: its seeded truth, independent of the code under test.
CYCLES = {"hour_flow": "hour", "day_bandwidth": "day"}


def _calls(box: Sandbox) -> list[dict[str, Any]]:
    return [r for r in box.requests if r["action"] == ACTION]


def test_bill_types_asks_one_month_at_a_time_and_joins_the_answers(fresh_sandbox: Any) -> None:
    box = fresh_sandbox()
    frame = bill_types(box.accounts, "2026-09-15T00:00:00+08:00", "2026-11-20T00:00:00+08:00")
    assert frame.columns.tolist() == ["account", "start", "end", "bill_type", "billing_cycle", "dimension"]
    assert frame["account"].tolist() == ["demo-games", "demo-media", "demo-shop"]
    for row in frame.itertuples():
        method = box.account_spec(row.account).bill_type
        assert row.bill_type == method
        assert row.billing_cycle == CYCLES.get(method.removesuffix("_overseas"), "month")
        assert row.dimension == "flow"
        assert row.start == pd.Timestamp("2026-09-14T16:00:00Z")
        assert row.end == pd.Timestamp("2026-11-19T16:00:00Z")
    assert str(frame["start"].dtype) == "datetime64[ns, UTC]"
    windows = [
        (c["params"]["StartTime"], c["params"]["EndTime"]) for c in _calls(box) if c["account"] == "demo-shop"
    ]
    assert windows == [
        ("2026-09-14T16:00:00Z", "2026-09-30T16:00:00Z"),
        ("2026-09-30T16:00:00Z", "2026-10-31T16:00:00Z"),
        ("2026-10-31T16:00:00Z", "2026-11-19T16:00:00Z"),
    ]
    assert all(c["status"] == 200 for c in _calls(box))


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["v3-default", "v2"])
def test_the_official_sdk_reads_the_bill_type(sandbox: Sandbox, algorithm: str | None) -> None:
    for account in sandbox.accounts:  # demo-media carries an STS token
        config = openapi.Config(
            access_key_id=account.access_key_id,
            access_key_secret=account.access_key_secret,
            security_token=account.security_token,
            endpoint=sandbox.endpoint.removeprefix("http://"),
            protocol="http",
        )
        if algorithm is not None:
            config.signature_algorithm = algorithm
        reply = cdn.Client(config).describe_cdn_user_bill_type(
            models.DescribeCdnUserBillTypeRequest(
                start_time="2026-09-30T16:00:00Z", end_time="2026-10-31T16:00:00Z"
            )
        )
        (item,) = reply.body.bill_type_data.bill_type_data_item
        assert item.bill_type == sandbox.account_spec(account.name).bill_type
        assert (item.start_time, item.end_time, item.product) == (
            "2026-09-30T16:00:00Z",
            "2026-10-31T16:00:00Z",
            "cdn",
        )
        assert reply.body.request_id


def test_the_sandbox_answers_the_reference_shape(sandbox: Sandbox, wire: Any) -> None:
    account = sandbox.accounts[0]
    reply = wire.v2(account, ACTION, {"StartTime": "2026-10-01T00:00:00Z", "EndTime": "2026-10-02T00:00:00Z"})
    assert reply.status == 200, reply
    body = reply.json
    assert set(body) == {"RequestId", "BillTypeData"}
    (item,) = body["BillTypeData"]["BillTypeDataItem"]
    assert set(item) == {"StartTime", "EndTime", "Product", "BillType", "BillingCycle", "Dimension"}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"StartTime": "2026-10-01T00:00:00Z"}, "MissingTimeParameter"),
        ({"EndTime": "2026-10-01T00:00:00Z"}, "MissingTimeParameter"),
        ({"StartTime": "2026-10-01", "EndTime": "2026-10-02T00:00:00Z"}, "InvalidStartTime.Malformed"),
        ({"StartTime": "2026-10-01T00:00:00Z", "EndTime": "tomorrow"}, "InvalidEndTime.Malformed"),
        ({"StartTime": "2026-10-02T00:00:00Z", "EndTime": "2026-10-01T00:00:00Z"}, "InvalidTimeRange"),
        ({"StartTime": "2026-09-01T00:00:00Z", "EndTime": "2026-10-02T00:00:01Z"}, "InvalidTimeRange"),
        (
            {"StartTime": "2026-12-01T00:00:00Z", "EndTime": "2026-12-02T00:00:00Z"},
            "InvalidStartTime.ValueNotSupported",
        ),
    ],
)
def test_the_sandbox_refuses_what_the_service_refuses(
    sandbox: Sandbox, wire: Any, params: dict[str, str], code: str
) -> None:
    reply = wire.v3(sandbox.accounts[0], ACTION, params)
    assert (reply.status, reply.code) == (400, code), reply


def test_the_sandbox_accepts_exactly_31_days_and_checks_the_signature(sandbox: Sandbox, wire: Any) -> None:
    account = sandbox.accounts[2]
    ok = wire.v3(account, ACTION, {"StartTime": "2026-09-30T16:00:00Z", "EndTime": "2026-10-31T16:00:00Z"})
    assert ok.status == 200, ok
    forged = wire.v3(
        account,
        ACTION,
        {"StartTime": "2026-09-30T16:00:00Z", "EndTime": "2026-10-31T16:00:00Z"},
        secret="wrong",
    )
    assert (forged.status, forged.code) == (400, "SignatureDoesNotMatch")


def test_bill_types_raises_the_services_refusal(sandbox: Sandbox) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        bill_types(sandbox.accounts[0], "2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z")
    assert caught.value.code == "InvalidStartTime.ValueNotSupported"
    assert caught.value.account == "demo-shop"


def _month_exports(box: Sandbox) -> pd.DataFrame:
    """A by-account flow export of October 2026 (Beijing) per account, created and waited for.

    An export can fail, as on the service: a user creates it again, and so does this.
    """
    done = []
    for account in box.accounts:
        for _ in range(5):
            task = usagekit.create_export(
                account, "detail", "2026-10-01T00:00:00+08:00", "2026-11-01T00:00:00+08:00", type="flow"
            )
            row = usagekit.wait(task, sleep=box.advance, progress=False)
            if row["status"].iloc[0] == "success":
                done.append(row)
                break
    return pd.concat(done, ignore_index=True)


@pytest.fixture(scope="module")
def october() -> Any:
    """The sandbox, October's exports, and the tidy frame usage() reads from their workbooks."""
    with Sandbox(seed=7, now="2026-11-20T08:00:00Z", clock="frozen") as box:
        done = _month_exports(box)
        yield box, done, usagekit.usage(done, progress=False)


@pytest.mark.parametrize("method", [m for m in METHODS if m != "hour_count"])
def test_bills_from_the_workbooks_equal_bills_from_the_sandbox_truth(
    october: tuple[Sandbox, pd.DataFrame, pd.DataFrame], method: str
) -> None:
    box, done, from_files = october
    # By-account exports only, one per account and not overlapping: the reconcile rule of issue 8 (per
    # domain against by account) does not come into it.
    assert set(done["status"]) == {"success"} and set(done["domains"]) == {"all"}
    truth = tidy_frame(pd.concat([box.truth.usage(t) for t in done["task_id"]], ignore_index=True))
    assert (
        len(from_files)
        == len(truth)
        == sum(31 * 288 * 2 * len(box.account_spec(a).regions) for a in done["account"])
    )
    got = billing_quantities(from_files, method)
    expected = billing_quantities(truth, method)
    assert len(got) > 0
    pd.testing.assert_frame_equal(got, expected)


def test_the_comparison_from_the_workbooks_equals_the_one_from_truth(
    october: tuple[Sandbox, pd.DataFrame, pd.DataFrame],
) -> None:
    box, done, from_files = october
    truth = tidy_frame(pd.concat([box.truth.usage(t) for t in done["task_id"]], ignore_index=True))
    got = compare_billing(from_files)
    pd.testing.assert_frame_equal(got, compare_billing(truth))
    # A whole month of data: 31 days, nothing missing, for every account and region.
    assert set(got["missing_points"]) == {0}
    assert set(got.loc[got["method"] == "day_bandwidth", "days"]) == {31}
