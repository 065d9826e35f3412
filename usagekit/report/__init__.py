"""The billing report: ``billing.csv`` from tidy usage, and a notebook executed on it into ``report.html``.

``usagekit demo`` writes a folder holding the tidy usage as a Parquet dataset (``usage/``). This module
adds the bill: :func:`write_billing` writes :func:`usagekit.compare_billing` of that usage, priced with
the shipped *example* price table, as ``billing.csv``; :func:`write_report` executes the report notebook
that ships with usagekit (``billing_report.ipynb``, package data beside this file) with the folder as its
working directory, and converts it to ``report.html``. The notebook reads only ``usage/`` and
``billing.csv``: it starts no sandbox, calls no service and holds no credential, and its kernel is
started without the ``ALIBABA_CLOUD_*`` / ``ALIYUN_*`` variables, so no secret can reach the page.

The example price table (:func:`example_prices`) holds illustrative numbers written for the examples in
November 2026 (:data:`EXAMPLE_PRICES_DATE`). They are NOT Alibaba Cloud's prices: take yours from your
contract or the console.

Executing the notebook needs the ``report`` extra (nbclient, nbconvert, nbformat, ipykernel) and its
plots the ``plot`` extra; a missing one raises :class:`usagekit.MissingExtraError` naming it.

>>> table = example_prices()
>>> table.loc[table["method"] == "month_95", ["region", "unit_price", "currency"]].astype(str).to_numpy().tolist()
[['*', '24.00000000', 'CNY']]
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from usagekit.errors import ReportError
from usagekit.optional import require
from usagekit.prices import EXAMPLE_PRICES_DATE

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "EXAMPLE_PRICES_DATE",
    "ReportError",
    "example_prices",
    "kernel_environment",
    "latest_complete_month",
    "read_billing",
    "report_month",
    "report_notebook",
    "write_billing",
    "write_figures",
    "write_report",
]

_NOTEBOOK_FILE = "billing_report.ipynb"
#: the report's title, in its browser tab
REPORT_TITLE = "Alibaba Cloud CDN billing report (usagekit)"
#: environment variables a report kernel never sees: credentials of the real service and of the sandbox
_HIDDEN_PREFIXES = ("ALIBABA_CLOUD_", "ALIYUN_", "USAGEKIT_SANDBOX")


def _data(name: str) -> Any:
    return resources.files(__name__).joinpath(name)


def example_prices() -> pd.DataFrame:
    """The example price table shipped with usagekit, checked by :func:`usagekit.billing.read_prices`.

    Illustrative numbers written in November 2026, NOT Alibaba Cloud's prices. Columns: ``method``,
    ``region`` (``*``: any region without rows of its own), ``tier_from``, ``tier_to``, ``unit_price``,
    ``currency``; ``unit_price`` is exact money (:func:`usagekit.prices.money_dtype`).
    """
    from usagekit.prices import example_prices as shipped

    return shipped()


def report_notebook() -> str:
    """The report notebook's text (JSON), as shipped; :func:`write_report` executes it.

    >>> '"cells"' in report_notebook()
    True
    """
    return _data(_NOTEBOOK_FILE).read_text(encoding="utf-8")


# --- billing.csv -----------------------------------------------------------------------------------------


def write_billing(
    usage: pd.DataFrame, path: str | os.PathLike[str], *, prices: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Write :func:`usagekit.compare_billing` of ``usage`` to the CSV file ``path``; return the frame.

    ``prices`` defaults to :func:`example_prices`. A missing value is an empty cell, so the region
    ``NA`` (North America) stays ``NA``; read the file back with :func:`read_billing`.
    """
    from usagekit.billing import compare_billing

    table = compare_billing(usage, prices=example_prices() if prices is None else prices)
    table.to_csv(path, index=False, na_rep="")
    return table


def read_billing(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a ``billing.csv`` that :func:`write_billing` wrote, with only empty cells as missing.

    >>> import io
    >>> text = "account,region,month,method,quantity,cost,cheapest\\nshop,NA,2026-10,month_95,1.5,,\\n"
    >>> row = read_billing(io.StringIO(text)).iloc[0]
    >>> row.region, row.month, row.cost is pd.NA, row.cheapest is pd.NA
    ('NA', '2026-10', True, True)
    """
    frame = pd.read_csv(
        path,
        keep_default_na=False,
        na_values=[""],
        dtype={"account": "string", "region": "string", "month": "string", "currency": "string"},
    )
    for column, dtype in (("cost", "Float64"), ("cheapest", "boolean")):
        if column in frame.columns:
            frame[column] = frame[column].astype(dtype)  # type: ignore[call-overload]  # pandas-stubs: a dtype name in a str
    return frame


def latest_complete_month(billing: pd.DataFrame) -> str | None:
    """The latest Beijing month in which no row of ``billing`` misses a point, else None.

    >>> latest_complete_month(pd.DataFrame({"month": ["2026-09", "2026-10", "2026-11"],
    ...                                     "missing_points": [0, 0, 2304]}))
    '2026-10'
    """
    missing = billing.groupby(billing["month"].astype(str))["missing_points"].sum()
    complete = sorted(missing.index[missing == 0])
    return complete[-1] if complete else None


def report_month(billing: pd.DataFrame) -> str | None:
    """The month a report shows: :func:`latest_complete_month`, else the month with the most points.

    None when ``billing`` has no rows.

    >>> report_month(pd.DataFrame({"month": ["2026-10", "2026-11"], "points": [4000, 6000],
    ...                            "missing_points": [4928, 2640]}))
    '2026-11'
    """
    if billing.empty:
        return None
    complete = latest_complete_month(billing)
    if complete is not None:
        return complete
    return str(billing.groupby(billing["month"].astype(str))["points"].sum().idxmax())


# --- the figures -----------------------------------------------------------------------------------------


def write_figures(
    tasks: pd.DataFrame, usage: pd.DataFrame, billing: pd.DataFrame, folder: str | os.PathLike[str]
) -> dict[str, Path]:
    """Save the demo's three figures as PNG in ``folder``; return ``{name: path}``.

    ``timeline.png``: every export's window, by account, kind and type (:func:`usagekit.plot_timeline`,
    Beijing time); ``usage.png``: each account's daily peak bandwidth (:func:`usagekit.plot_usage`);
    ``percentile.png``: the biggest ``month_95`` bill of :func:`report_month`, its points sorted and what each method bills (:func:`usagekit.plot_percentile`). Needs the
    ``plot`` extra (:class:`usagekit.MissingExtraError` otherwise, before any file is written).
    """
    require("matplotlib", extra="plot", purpose="the demo's PNG plots")
    from usagekit.plots import plot_percentile, plot_timeline, plot_usage

    folder = Path(folder)
    axes = {
        "timeline.png": plot_timeline(tasks, tz="Asia/Shanghai"),
        "usage.png": plot_usage(usage, metric="bandwidth", by="account", freq="1D", tz="Asia/Shanghai"),
    }
    month = report_month(billing)
    bills = billing[(billing["month"] == month) & (billing["method"] == "month_95")]
    if len(bills):
        biggest = bills.loc[bills["quantity"].idxmax()]  # type: ignore[call-overload]  # pandas-stubs: a Hashable label
        axes["percentile.png"] = plot_percentile(
            usage, str(biggest["account"]), str(month), region=str(biggest["region"])
        )
    written = {}
    for name, ax in axes.items():
        cast("Figure", ax.figure).savefig(folder / name, dpi=100, bbox_inches="tight")
        written[name] = folder / name
    return written


# --- report.html -----------------------------------------------------------------------------------------


def kernel_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The report kernel's environment: ``environ`` without credentials or the sandbox switch.

    >>> kernel_environment({"PATH": "/bin", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s", "ALIYUN_PROFILE": "p"})
    {'PATH': '/bin', 'TQDM_DISABLE': '1'}
    """
    kept = {k: v for k, v in environ.items() if not k.upper().startswith(_HIDDEN_PREFIXES)}
    return {**kept, "TQDM_DISABLE": "1"}


def _kernel_manager(sockets: str) -> Any:
    """A kernel manager that starts this very interpreter's ipykernel, whatever kernels are installed.

    Where Unix sockets exist the kernel talks through them, in the private folder ``sockets``: no TCP
    port another local user could reach, and no warning about unencrypted TCP on stderr.
    """
    require("ipykernel", extra="report", purpose="the billing report")
    from ipykernel.kernelspec import RESOURCES, get_kernel_dict
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager

    class ThisPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(resource_dir=RESOURCES, **get_kernel_dict())

    if os.name != "posix":
        return KernelManager(kernel_name="python3", kernel_spec_manager=ThisPython())
    return KernelManager(
        kernel_name="python3",
        kernel_spec_manager=ThisPython(),
        transport="ipc",
        ip=os.path.join(sockets, "kernel"),
    )


#: the lab template without the scripts it loads from a CDN (MathJax, require.js, mermaid): the report
#: uses none of them, and a page of billing figures should open offline without asking another host.
#: A PNG gets its alternative text from the output's ``alt`` metadata (the notebook gives each plot's title).
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
 alt="{{ ((output | get_metadata('alt', 'image/png')) or 'a figure') | escape_html }}">
</div>
{%- endblock data_png %}
"""


def write_report(
    folder: str | os.PathLike[str], html: str | os.PathLike[str] | None = None, *, timeout: int = 300
) -> Path:
    """Execute the billing report notebook in ``folder`` and write it as HTML; return the HTML's path.

    ``folder`` holds ``usage/`` (a Parquet dataset of tidy usage) and ``billing.csv``
    (:func:`write_billing`); ``html`` defaults to ``folder/report.html``. ``timeout`` bounds each cell,
    in seconds. Raises :class:`usagekit.MissingExtraError` when the ``report`` or ``plot`` extra is
    missing, :class:`ReportError` when an input is missing or a cell fails.

    Example (a folder ``usagekit demo`` wrote)::

        write_report("usagekit-demo")  # -> usagekit-demo/report.html
    """
    purpose = "the billing report (report.html)"
    nbformat = require("nbformat", extra="report", purpose=purpose)
    nbclient = require("nbclient", extra="report", purpose=purpose)
    nbconvert = require("nbconvert", extra="report", purpose=purpose)
    require("matplotlib", extra="plot", purpose="the billing report's plots")
    folder = Path(folder)
    lacking = [name for name in ("usage", "billing.csv") if not (folder / name).exists()]
    if lacking:
        raise ReportError(
            f"the report reads {' and '.join(lacking)} in {str(folder)!r}, which has none: "
            "run `usagekit demo --output FOLDER` first, or write them with to_dataset and write_billing"
        )
    if pd.read_csv(folder / "billing.csv", nrows=1).empty:
        raise ReportError(
            f"{str(folder / 'billing.csv')!r} has no rows (the usage holds no traffic or bandwidth): "
            "there is no bill to report on"
        )
    target = Path(html) if html is not None else folder / "report.html"
    notebook = nbformat.reads(report_notebook(), as_version=4)
    env = kernel_environment(os.environ)
    with tempfile.TemporaryDirectory(prefix="usagekit-report-") as sockets:
        manager = _kernel_manager(sockets)
        client = nbclient.NotebookClient(
            notebook, km=manager, timeout=timeout, resources={"metadata": {"path": str(folder.resolve())}}
        )
        try:
            client.execute(env=env)
        except nbclient.exceptions.CellExecutionError as error:
            raise ReportError(
                f"the report notebook failed in a cell: {error.ename}: {error.evalue}"
            ) from None
        finally:
            # a kernel manager handed in is ours to stop, not nbclient's, and so is its client: nbclient leaves
            # that client's zmq sockets open, and their garbage collection later warned (ResourceWarning)
            if client.kc is not None:
                client.kc.stop_channels()
            if manager.has_kernel:
                manager.shutdown_kernel(now=True)
    jinja2 = require("jinja2", extra="report", purpose=purpose)
    exporter = nbconvert.HTMLExporter(
        template_name="lab",
        template_file="usagekit_report.html.j2",
        extra_loaders=[jinja2.DictLoader({"usagekit_report.html.j2": _TEMPLATE})],
    )
    # A report for readers, not a notebook: no code, no prompts, and a title of its own (the tab said "Notebook").
    exporter.exclude_input = exporter.exclude_input_prompt = exporter.exclude_output_prompt = True
    notebook.metadata["title"] = REPORT_TITLE
    body, _ = exporter.from_notebook_node(notebook)
    target.write_text(body, encoding="utf-8")
    return target
