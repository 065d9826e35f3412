"""The explorer where users meet it: notebooks/explorer.ipynb in JupyterLab, in headless Chromium.

JupyterLab serves a copy of the notebook on 127.0.0.1 (token, no update or news checks); Playwright
drives Debian's Chromium (never a downloaded browser) with every host but 127.0.0.1 unresolvable. The
test runs all cells, checks the picker lists the sandbox's accounts, clicks **Load** (task table and
timeline image), chooses an export and clicks **Fetch** (usage plot), and saves a screenshot after each
step in tests/browser/screenshots/ (not committed). Expected values come from a sandbox of the same seed
and start time as the notebook's, started here.

Without Chromium the test skips, saying how to install it; under ``CI=true`` that is a failure.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import _lab
import pytest

from usagekit import Sandbox

SCREENSHOTS = Path(__file__).parent / "screenshots"
SEED, NOW = 0, "2026-11-20T08:00:00Z"  # as the notebook's first cell pins them
BUDGET = 60  # seconds for the whole browser session, JupyterLab's start included


def need_browser() -> None:
    missing = []
    if not _lab.CHROMIUM.exists():
        missing.append(f"no browser at {_lab.CHROMIUM}: {_lab.INSTALL_HINT}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append(
            "the playwright package is missing: pip install -e '.[test]' (never 'playwright install')"
        )
    if missing:
        message = "the browser test cannot run: " + "; ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def short(key_id: str) -> str:
    return f"{key_id[:4]}…{key_id[-4:]}"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_explorer_in_jupyterlab_from_picker_to_usage_plot(tmp_path: Path) -> None:
    need_browser()
    with Sandbox(seed=SEED, now=NOW, clock="frozen") as truth_box:
        accounts = truth_box.accounts
        labels = [
            f"{a.name} · sandbox · {short(a.access_key_id)}" + (" · STS" if a.security_token else "")
            for a in accounts
        ]
        tasks = {a.name: truth_box.truth.tasks(a.name, "all") for a in accounts}
    total = sum(len(frame) for frame in tasks.values())
    detail = [f[(f.kind == "detail") & (f.status == "success")] for f in tasks.values()]
    newest = max((row for f in detail for row in f.itertuples()), key=lambda row: row.created)
    SCREENSHOTS.mkdir(exist_ok=True)

    started = time.monotonic()
    with _lab.jupyterlab(tmp_path) as lab, _lab.chromium_page() as page:
        _lab.open_and_run_all(page, lab)
        pickers = page.locator(".usagekit-account-picker select")
        assert pickers.count() == 2  # the picker's own cell, and the explorer's
        for index in range(2):
            shown = pickers.nth(index).locator("option").all_inner_texts()
            assert [text.replace("\xa0", " ") for text in shown] == labels
        page.screenshot(path=SCREENSHOTS / "1-all-cells-run.png")

        _lab.click_load(page)
        message = page.locator(f"{_lab.EXPLORER} .usagekit-message").inner_text()
        assert f"{total} tasks of 3 accounts: " in message
        assert page.locator(f"{_lab.EXPLORER} .usagekit-task-table tbody tr").count() == total
        width, height = _lab.image_size(page, f"{_lab.EXPLORER} img.usagekit-timeline")
        assert width > 400 and height > 200
        page.locator(f"{_lab.EXPLORER} img.usagekit-timeline").scroll_into_view_if_needed()
        page.screenshot(path=SCREENSHOTS / "2-loaded.png")

        options = page.locator(f"{_lab.EXPLORER} .usagekit-exports option").all_inner_texts()
        assert options[0].replace("\xa0", " ").startswith(f"{newest.account} · {newest.task_id} · ")
        _lab.choose_and_fetch(page, options[0])
        usage_line = page.locator(f"{_lab.EXPLORER} .usagekit-usage-message").inner_text()
        assert usage_line.startswith("1 export of 1 account: ")
        width, height = _lab.image_size(page, f"{_lab.EXPLORER} img.usagekit-usage-plot")
        assert width > 400 and height > 200
        assert page.locator(f'{_lab.EXPLORER} div[style*="#b3261e"]').count() == 0  # no error line
        page.locator(f"{_lab.EXPLORER} img.usagekit-usage-plot").scroll_into_view_if_needed()
        page.screenshot(path=SCREENSHOTS / "3-fetched.png")
    elapsed = time.monotonic() - started  # recorded, not asserted: a busy machine must not fail the test
    (SCREENSHOTS / "session-seconds.txt").write_text(f"{elapsed:.1f} s (budget {BUDGET} s)\n")
