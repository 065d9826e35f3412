"""usagekit's own CdnClient against the sandbox: every task of every demo account, page by page."""

from __future__ import annotations

import pandas as pd
import pytest

from usagekit import client as client_module
from usagekit.frames import exclusive_end
from usagekit.sandbox import Sandbox

ACTIONS = {"summary": "DescribeUserUsageDataExportTask", "detail": "DescribeUserUsageDetailDataExportTask"}


@pytest.mark.parametrize("signature", ["v3", "v2"])
def test_cdn_client_lists_what_truth_holds(sandbox: Sandbox, signature: str) -> None:
    for account in sandbox.accounts:
        with client_module.CdnClient(account, signature=signature) as client:
            for kind, action in ACTIONS.items():
                rows, number = [], 1
                while True:
                    page = client.call(action, PageSize=15, PageNumber=number)["UsageDataPerPage"]
                    items = page["Data"]["DataItem"]
                    rows += [
                        (
                            str(i["TaskId"]),
                            i["Status"],
                            pd.Timestamp(i["TaskConfig"]["StartTime"]),
                            exclusive_end(i["TaskConfig"]["EndTime"]),
                        )
                        for i in items
                    ]
                    if not items or len(rows) >= page["TotalCount"]:
                        break
                    number += 1
                truth = sandbox.truth.tasks(account.name, kind)
                expected = list(
                    zip(
                        truth["task_id"],
                        truth["status"],
                        truth["window_start"],
                        truth["window_end"],
                        strict=True,
                    )
                )
                assert rows == expected
