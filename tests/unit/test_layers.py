"""The shape of syncd's import graph: no circle, layers pointing inward, vendors in one place.

Read from the source with `ast` (no import runs): every `import` counts, at module level or
inside a function, because a lazy import only hides a circle. A module's own package
`__init__` is not counted as an edge (Python runs it first, but it is not a dependency the
module chose).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.sandbox import SANDBOXES
from syncd.vendors import CONNECTORS

ROOT = Path(__file__).resolve().parents[2] / "syncd"
VENDOR_KEYS = ("offorte", "strawblond", "quickquote", "happyoffer", "automa")
VENDOR_WORD = re.compile("|".join(VENDOR_KEYS), re.IGNORECASE)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imported(name: str, path: Path) -> Iterator[str]:
    """The syncd modules one module imports (a `from pkg import sub` names `pkg.sub`)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                       for a in node.names]
        else:
            continue
        yield from (t for t in targets if t in MODULES and t != name)


GRAPH = {name: set(imported(name, path)) for name, path in MODULES.items()}


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in GRAPH[node]:
                found.append(sorted(component))

    for name in GRAPH:
        if name not in index:
            visit(name)
    return found


def test_the_import_graph_has_no_circle() -> None:
    assert cycles() == []


@pytest.mark.parametrize(("layer", "forbidden"), [
    ("syncd.sandbox", ("syncd.settings", "syncd.engine", "syncd.vendors")),
    ("syncd.http", ("syncd.db", "syncd.engine", "syncd.settings", "syncd.vendors")),
    ("syncd.vendors", ("syncd.settings", "syncd.engine", "syncd.db", "syncd.sandbox")),
])
def test_layers_point_inward(layer: str, forbidden: tuple[str, ...]) -> None:
    wrong = sorted(f"{name} imports {target}" for name, targets in GRAPH.items()
                   if name == layer or name.startswith(layer + ".")
                   for target in targets
                   if any(target == f or target.startswith(f + ".") for f in forbidden))
    assert wrong == []


def vendor_module(path: Path) -> bool:
    """Where a vendor key may appear in code: its connector, its sandbox, the two maps."""
    relative = path.relative_to(ROOT).as_posix()
    if relative in ("vendors/__init__.py", "sandbox/__init__.py"):
        return True
    folder, _, file = relative.rpartition("/")
    return (folder == "vendors" and file.removesuffix(".py") in VENDOR_KEYS) or (
        folder == "sandbox" and any(file.startswith(key) for key in VENDOR_KEYS))


def docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def vendor_words(path: Path) -> Iterator[str]:
    """Vendor keys a module names in code: strings (docstrings aside), names, imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            words = [node.value]
        elif isinstance(node, ast.Name):
            words = [node.id]
        elif isinstance(node, ast.Attribute):
            words = [node.attr]
        elif isinstance(node, ast.Import | ast.ImportFrom):
            words = [getattr(node, "module", None) or "", *(a.name for a in node.names)]
        else:
            continue
        yield from (f"line {node.lineno}: {w!r}" for w in words if VENDOR_WORD.search(w))


def test_no_shared_module_names_a_vendor() -> None:
    named = {f"{path.relative_to(ROOT)} {hit}" for path in MODULES.values()
             if not vendor_module(path) for hit in vendor_words(path)}
    assert sorted(named) == []


def test_the_two_maps_hold_the_same_vendors_under_their_own_keys() -> None:
    assert sorted(CONNECTORS) == sorted(SANDBOXES)
    assert all(cls.vendor == key for key, cls in CONNECTORS.items())
    assert all(cls.vendor == key for key, cls in SANDBOXES.items())
