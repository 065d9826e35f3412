"""Sphinx configuration for usagekit's API reference.

The pages are generated from the package's own ``__all__``: each public name goes on the page of its
area (by the module it lives in), and a public name no area claims stops the build, so the reference can
never silently miss a name. Build it as CI does::

    sphinx-build -W -b html docs docs/_build/html
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

import usagekit  # noqa: E402

project = "usagekit"
author = "usagekit maintainers"
# myst_parser reads the guide (docs/guide.md), the detail the README points to, as it is written.
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.intersphinx", "myst_parser"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
napoleon_numpy_docstring = True
napoleon_google_docstring = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_title = "usagekit API reference"

# One page per area, in reading order; a module belongs to exactly one area.
AREAS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "tasks": (
        "Accounts and export tasks",
        "Finding credentials, listing every export task, creating, waiting for and deleting exports.",
        ("accounts", "discovery", "client", "retry", "tasks", "listing", "lifecycle", "windows", "resolve"),
    ),
    "files": (
        "Files",
        "Fetching exported files (cached, verified) and reading them.",
        ("downloads", "readers", "filecache", "transfer"),
    ),
    "usage": (
        "Usage frames and datasets",
        "Tidy usage frames, reconciled exports, Parquet datasets, keeping a dataset current, FOCUS.",
        ("tidy", "dataset", "syncing", "sync_report", "focus", "csvfiles"),
    ),
    "bill": (
        "The bill",
        "What each billing method bills, what the service says it billed, the money, showback and anomalies.",
        (
            "billing",
            "billtypes",
            "prices",
            "billhistory",
            "billcheck",
            "bss",
            "costcheck",
            "showback",
            "anomaly",
            "domains",
        ),
    ),
    "plots": (
        "Plots and widgets",
        "Every plot takes an optional matplotlib ``ax`` and returns the Axes; the explorer widget.",
        (
            "plots",
            "timeline",
            "billplot",
            "billcheckplot",
            "anomalyplot",
            "showbackplot",
            "widgets",
            "explorer",
        ),
    ),
    "sandbox": (
        "The sandbox",
        "A real local HTTP server speaking the same API, with a seeded world and its truth.",
        ("sandbox",),
    ),
    "errors": (
        "Errors and warnings",
        "Everything usagekit raises is a ``UsagekitError``; every warning it gives is a ``UsagekitWarning``.",
        ("errors",),
    ),
    "session": ("Sessions", "Process state in one object.", ("session", "version")),
}


def _area_of(name: str) -> str:
    value = getattr(usagekit, name)
    module = getattr(value, "__module__", None) or ""
    if name == "__version__":
        return "session"
    parts = module.split(".")
    part = parts[1] if len(parts) > 1 else ""
    for area, (_title, _intro, modules) in AREAS.items():
        if part in modules:
            return area
    raise RuntimeError(
        f"usagekit.{name} (from {module}) belongs to no page of the API reference: "
        "add its module to AREAS in docs/conf.py"
    )


def _directive(name: str) -> str:
    value = getattr(usagekit, name)
    if isinstance(value, type):
        return f".. autoclass:: usagekit.{name}\n   :members:\n   :show-inheritance:\n"
    if callable(value):
        return f".. autofunction:: usagekit.{name}\n"
    return f".. autodata:: usagekit.{name}\n   :annotation:\n"


def write_pages() -> list[str]:
    """Write one page per area from ``usagekit.__all__``; return the page names in reading order."""
    pages: dict[str, list[str]] = {area: [] for area in AREAS}
    for name in sorted(usagekit.__all__, key=str.lower):
        if name == "__version__":
            continue
        pages[_area_of(name)].append(name)
    written = []
    (HERE / "api").mkdir(exist_ok=True)  # generated, so not in a fresh clone
    for area, names in pages.items():
        if not names:
            continue
        title, intro, _modules = AREAS[area]
        body = [title, "=" * len(title), "", intro, ""]
        body += [_directive(name) for name in names]
        text = "\n".join(body)
        path = HERE / "api" / f"{area}.rst"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        written.append(area)
    return written


importlib.invalidate_caches()
_pages = write_pages()
(HERE / "api" / "index.rst").write_text(
    "API reference\n=============\n\n.. toctree::\n   :maxdepth: 2\n\n"
    + "".join(f"   {page}\n" for page in _pages)
)
