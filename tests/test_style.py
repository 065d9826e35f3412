"""The code base stays ruff clean and ``import usagekit`` stays light."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is installed by the test extra")
def test_ruff_is_clean() -> None:
    result = subprocess.run(["ruff", "check", str(ROOT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_usagekit_is_light() -> None:
    code = (
        "import sys, usagekit; "
        "heavy = [m for m in ('matplotlib', 'ipywidgets', 'openpyxl', 'pyarrow', 'python_calamine', 'xlsxwriter',"
        " 'fastexcel', 'pandas', 'importlib.metadata')"
        " if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_public_names_resolve_to_what_they_name() -> None:
    """Every name in ``__all__`` resolves, and no function is shadowed by a submodule of the same name."""
    import types

    import usagekit
    import usagekit.tasks
    import usagekit.tidy

    for name in usagekit.__all__:
        value = getattr(usagekit, name)
        assert not isinstance(value, types.ModuleType), f"usagekit.{name} is a module, not the public object"
    assert callable(usagekit.coverage)


def _imported_after(statement: str, watched: tuple[str, ...]) -> list[str]:
    code = f"import sys; {statement}; print(','.join(m for m in {watched!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [name for name in result.stdout.strip().split(",") if name]


def test_lower_layers_do_not_import_higher_ones() -> None:
    """The architecture's one-way arrows: the client knows nothing of pandas, the readers nothing of HTTP."""
    assert _imported_after("import usagekit.client", ("pandas",)) == []
    assert (
        _imported_after("import usagekit.readers", ("requests", "usagekit.client", "usagekit.downloads"))
        == []
    )
