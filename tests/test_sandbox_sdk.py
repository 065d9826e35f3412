"""The official Alibaba Cloud SDK against the sandbox: an independent client, V3 (default) and V2."""

from __future__ import annotations

from typing import Any

import alibabacloud_cdn20180510.client as cdn  # the official SDK: the `test` extra installs it
import alibabacloud_cdn20180510.models as models
import alibabacloud_tea_openapi.models as openapi
import pytest

from usagekit.sandbox import Sandbox


def _client(box: Sandbox, account: Any, algorithm: str | None, secret: str | None = None) -> Any:
    config = openapi.Config(
        access_key_id=account.access_key_id,
        access_key_secret=secret or account.access_key_secret,
        security_token=account.security_token,
        endpoint=box.endpoint.removeprefix("http://"),
        protocol="http",
    )
    if algorithm is not None:
        config.signature_algorithm = algorithm  # "v2": HMAC-SHA1 RPC signatures (see tea_openapi call_api)
    return cdn.Client(config)


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["v3-default", "v2"])
def test_the_official_sdk_lists_creates_and_deletes(fresh_sandbox: Any, algorithm: str | None) -> None:
    box = fresh_sandbox()
    for account in box.accounts:  # demo-media carries an STS token
        client = _client(box, account, algorithm)
        summary = client.describe_user_usage_data_export_task(
            models.DescribeUserUsageDataExportTaskRequest(page_size="50", page_number="1")
        ).body.usage_data_per_page
        assert summary.total_count == 40
        assert [i.task_id for i in summary.data.data_item] == list(
            box.truth.tasks(account.name, "summary")["task_id"]
        )
        detail = client.describe_user_usage_detail_data_export_task(
            models.DescribeUserUsageDetailDataExportTaskRequest(page_size="10", page_number="4")
        ).body.usage_data_per_page
        assert (detail.page_number, detail.page_size, detail.total_count) == (4, 10, 40)
        truth = box.truth.tasks(account.name, "detail")
        assert [i.task_id for i in detail.data.data_item] == list(truth["task_id"].iloc[30:40])
        created = client.create_usage_detail_data_export_task(
            models.CreateUsageDetailDataExportTaskRequest(
                type="vas",
                start_time="2026-11-18T16:00:00Z",
                end_time="2026-11-19T15:59:59Z",
                task_name="sdk",
            )
        ).body
        assert created.task_id in set(box.truth.tasks(account.name, "detail")["task_id"])
        client.delete_usage_detail_data_export_task(
            models.DeleteUsageDetailDataExportTaskRequest(task_id=created.task_id)
        )
        assert created.task_id not in set(box.truth.tasks(account.name, "detail")["task_id"])
    styles = {r["style"] for r in box.requests}
    assert styles == {"v2" if algorithm == "v2" else "v3"}


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["v3-default", "v2"])
def test_the_official_sdk_with_a_wrong_secret_is_refused(sandbox: Sandbox, algorithm: str | None) -> None:
    client = _client(sandbox, sandbox.accounts[0], algorithm, secret="wrong-secret")
    with pytest.raises(Exception) as caught:
        client.describe_user_usage_data_export_task(
            models.DescribeUserUsageDataExportTaskRequest(page_size="5")
        )
    assert getattr(caught.value, "code", None) == "SignatureDoesNotMatch"
    assert getattr(caught.value, "status_code", 400) == 400
