"""JupyterLab on 127.0.0.1 and headless Debian Chromium driven by Playwright, with nothing leaving the machine.

Used by ``test_explorer_in_jupyterlab.py`` and, to regenerate the README's screenshot, run as a script:

    python tests/browser/_lab.py docs/images/explorer.png

JupyterLab runs with a random token, its update check, news feed and PyPI extension manager off, and
private config, data, runtime, settings and workspace folders (a user's own settings never apply).
Chromium runs with background networking, component updates and sync off and every host name but
127.0.0.1 unresolvable. Playwright drives the Chromium Debian installs (``apt-get install chromium``);
it never downloads a browser.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "explorer.ipynb"
CHROMIUM = Path(os.environ.get("USAGEKIT_CHROMIUM", "/usr/bin/chromium"))
INSTALL_HINT = "install Debian's Chromium with: sudo apt-get install -y chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
LAB_CONFIG = """\
c.ServerApp.open_browser = False
c.ServerApp.port_retries = 0
c.ServerApp.allow_root = True  # CI containers run as root; the server listens on 127.0.0.1 only
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"
c.LabApp.expose_app_in_browser = True
c.KernelManager.transport = "ipc"  # the kernel's channels as private socket files, not TCP ports
"""
#: user settings: no news or update prompts, every cell in the DOM (widgets render off screen too)
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


@dataclass
class Lab:
    """A running JupyterLab: its base URL, token and the folder it serves."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def jupyterlab(folder: Path, *, start_timeout: float = 60) -> Iterator[Lab]:
    """Start JupyterLab on 127.0.0.1 serving a copy of ``explorer.ipynb`` in ``folder``; stop it after."""
    root = folder / "notebooks"
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    config = folder / "config"
    config.mkdir(exist_ok=True)
    (config / "jupyter_lab_config.py").write_text(LAB_CONFIG)
    settings = folder / "settings"
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    token, port = secrets.token_hex(16), _free_port()
    runtime = tempfile.mkdtemp(prefix="uk-lab-")  # short: the kernel's socket paths must fit 107 bytes
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_DATA_DIR": str(folder / "data"),
        "JUPYTER_RUNTIME_DIR": runtime,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(folder / "workspaces"),
        "IPYTHONDIR": str(folder / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    log = folder / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    lab = Lab(f"http://127.0.0.1:{port}", token, root, process, log)
    try:
        _wait_ready(lab, start_timeout)
        yield lab
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        shutil.rmtree(runtime, ignore_errors=True)


def _wait_ready(lab: Lab, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with {lab.process.returncode}:\n{lab.log.read_text()[-3000:]}"
            )
        try:
            request = urllib.request.Request(
                f"{lab.url}/api/status", headers={"Authorization": f"token {lab.token}"}
            )
            with urllib.request.urlopen(request, timeout=2) as reply:  # 127.0.0.1 only
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise TimeoutError(f"JupyterLab did not answer within {timeout:g} s:\n{lab.log.read_text()[-3000:]}")


@contextlib.contextmanager
def chromium_page(*, width: int = 1280, height: int = 1000) -> Iterator[Any]:
    """A page of headless Debian Chromium, launched by Playwright with the flags above."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
            yield context.new_page()
        finally:
            browser.close()


# --- the steps a user takes (the test checks after each; the README script takes a picture) ----------

EXPLORER = ".usagekit-explorer"


def open_and_run_all(page: Any, lab: Lab, *, timeout: float = 90) -> None:
    """Open ``explorer.ipynb``, run all its cells and wait until the last one has its output."""
    page.goto(lab.notebook_url(NOTEBOOK.name))
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.sessionContext"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
        timeout=timeout * 1000,
    )
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
        timeout=timeout * 1000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    # the last cell prints the usage plot's title and unit: all cells ran
    page.locator(".jp-OutputArea-output", has_text="Traffic per day").wait_for(timeout=timeout * 1000)


def click_load(page: Any, *, timeout: float = 30) -> None:
    """Click **Load** in the explorer; wait for the task table and the timeline image."""
    page.locator(EXPLORER).scroll_into_view_if_needed()
    page.locator(f"{EXPLORER} button", has_text="Load").click()
    page.locator(f"{EXPLORER} .usagekit-task-table table").wait_for(timeout=timeout * 1000)
    page.locator(f"{EXPLORER} img.usagekit-timeline").wait_for(timeout=timeout * 1000)


def choose_and_fetch(page: Any, label: str, *, timeout: float = 60) -> None:
    """Choose the export labelled ``label`` and click **Fetch**; wait for the usage plot."""
    page.locator(f"{EXPLORER} .usagekit-exports select").select_option(label=label)
    page.locator(f"{EXPLORER} button", has_text="Fetch").click()
    page.locator(f"{EXPLORER} img.usagekit-usage-plot").wait_for(timeout=timeout * 1000)


def image_size(page: Any, selector: str) -> tuple[int, int]:
    """The natural size of the image ``selector`` shows (0 x 0 when it did not decode)."""
    return tuple(page.eval_on_selector(selector, "img => [img.naturalWidth, img.naturalHeight]"))


def readme_screenshot(target: Path) -> None:
    """Run the explorer as a user would (one account, a traffic export) and save a picture to ``target``."""
    with (
        tempfile.TemporaryDirectory(prefix="usagekit-lab-") as folder,
        jupyterlab(Path(folder)) as lab,
        chromium_page(width=1280, height=1720) as page,
    ):
        open_and_run_all(page, lab)
        page.locator(f"{EXPLORER} .usagekit-account-picker select").select_option(index=[0])
        click_load(page)
        labels = page.locator(f"{EXPLORER} .usagekit-exports option").all_inner_texts()
        choose_and_fetch(
            page, next(label for label in labels if "\xa0flow\xa0" in label or " flow " in label)
        )
        page.locator(EXPLORER).evaluate("element => element.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(500)  # let the scroll settle before the picture
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target))


if __name__ == "__main__":
    readme_screenshot(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "images" / "explorer.png")
