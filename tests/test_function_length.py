"""Style: no function in usagekit/ is longer than 80 lines (issue 24: a function that holds several steps
names them as helpers, so each can be read and tested alone).

A function's length is ``end_lineno - lineno + 1`` of its ``def`` (decorators aside, docstring and
comments included); methods and nested functions count on their own.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "usagekit"
LIMIT = 80

#: functions allowed over the limit, each with its reason; empty: every function is within it
ALLOWED: dict[str, str] = {}


def long_functions(source: str, limit: int = LIMIT) -> dict[str, int]:
    """``{qualified name: lines}`` of every function or method in ``source`` longer than ``limit`` lines."""
    found: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef):
                    lines = (child.end_lineno or child.lineno) - child.lineno + 1
                    if lines > limit:
                        found[name] = lines
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def test_the_count_takes_docstrings_methods_and_nested_functions() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(76))
    source = (
        f'def short():\n    """Doc."""\n{body}\n'  # 78 lines
        f'def long():\n    """Doc\n\n    more.\n    """\n{body}\n'  # 81 lines
        f"class Holder:\n    def method(self):\n        if True:\n"
        + "\n".join(f"            y{i} = {i}" for i in range(80))
        + "\n"  # method: 82 lines
        + f"def outer():\n    def inner():\n{body.replace('    ', '        ')}\n        return 1\n"
        + "\n".join(f"    z{i} = {i}" for i in range(5))
        + "\n"
    )
    assert long_functions(source) == {"long": 81, "Holder.method": 82, "outer": 84}


def test_no_function_in_usagekit_is_over_80_lines() -> None:
    over = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).as_posix()
        for name, lines in long_functions(path.read_text(encoding="utf-8")).items():
            if f"{relative}::{name}" not in ALLOWED:
                over[f"{relative}::{name}"] = lines
    assert not over, f"functions over {LIMIT} lines (split the steps into named helpers): " + ", ".join(
        f"{name} ({lines})" for name, lines in sorted(over.items())
    )


def test_the_allow_list_stays_short() -> None:
    assert len(ALLOWED) <= 3, "the allow-list is for functions being split right now, not a parking place"
