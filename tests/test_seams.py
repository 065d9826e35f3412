"""Named seams: no module of usagekit takes another module's ``_underscore`` names, nor a library's.

What one module needs of another has a public name (in the module itself or an internal one); a private
name is the module's own business and may change with it. The same holds for the libraries usagekit
builds on: a ``_``-prefixed name of requests, urllib3 or socketserver can change in a minor release.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "usagekit"
LIBRARIES = ("requests", "urllib3", "socketserver", "http.server")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The module an ``ImportFrom`` names, relative imports resolved against ``importer``."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def private_imports(source: str, importer: str, is_package: bool = False) -> list[str]:
    """``from usagekit.x import _y`` (or ``from .x import _y``) of another module in ``source``.

    >>> private_imports("from usagekit.listing import _run, list_tasks", "usagekit.lifecycle")
    ['usagekit.listing._run']
    >>> private_imports("from .cells import _blank", "usagekit.readers.detail")
    ['usagekit.readers.cells._blank']
    >>> private_imports("from usagekit.listing import _run", "usagekit.listing")
    []
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = _absolute(importer, is_package, node)
        if module.split(".")[0] != "usagekit" or module == importer:
            continue
        for alias in node.names:
            if alias.name.startswith("_") and not alias.name.startswith("__"):
                found.append(f"{module}.{alias.name}")
    return found


def _sources() -> list[tuple[Path, str, str]]:
    return [(p, _module_name(p), p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.rglob("*.py"))]


def test_no_module_imports_another_modules_private_names() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}: {name}"
        for path, module, source in _sources()
        for name in private_imports(source, module, path.name == "__init__.py")
    ]
    assert offenders == [], "give what is shared a public name:\n" + "\n".join(offenders)


def _library_private_names() -> set[str]:
    """Every ``_name`` (not dunder) defined by the libraries' modules and classes."""
    names: set[str] = set()
    for library in LIBRARIES:
        root = importlib.import_module(library)
        modules = [root] + [
            importlib.import_module(f"{library}.{sub}")
            for sub in ("adapters", "sessions", "connectionpool", "poolmanager", "response", "connection")
            if library in ("requests", "urllib3") and importlib.util.find_spec(f"{library}.{sub}")
        ]
        for module in modules:
            for name, value in vars(module).items():
                names.add(name)
                if inspect.isclass(value):
                    names.update(name for klass in value.__mro__ for name in vars(klass))
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


def _own_names(tree: ast.AST) -> set[str]:
    """The ``_names`` a module defines itself: functions, classes, assignments, attributes it sets."""
    own: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            own.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            own.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            own.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Attribute):
            own.add(node.target.attr)
        elif isinstance(node, ast.alias):
            own.add(node.asname or node.name.split(".")[0])
    return own


def test_no_private_name_of_requests_urllib3_or_socketserver_is_used() -> None:
    """An attribute ``x._name`` usagekit reads that the libraries define and usagekit does not is theirs."""
    theirs = _library_private_names()
    offenders = []
    for path, _, source in _sources():
        tree = ast.parse(source)
        own = _own_names(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in theirs and node.attr not in own:
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: .{node.attr}")
    assert offenders == [], "use the libraries' public API:\n" + "\n".join(offenders)
