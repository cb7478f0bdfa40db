"""The sandbox's routers stand side by side: none imports another, so what two of them share
lives in a module below both (docs/sandbox.md, "Where the code is")."""

from __future__ import annotations

import ast
from pathlib import Path

import relink_api.sandbox

SANDBOX = Path(relink_api.sandbox.__file__).parent
PACKAGE = "relink_api.sandbox"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SANDBOX).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def _trees() -> dict[str, ast.Module]:
    return {_module_name(path): ast.parse(path.read_text()) for path in SANDBOX.rglob("*.py")}


def _defines_router(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Assign)
        and any(isinstance(target, ast.Name) and target.id == "router" for target in node.targets)
        for node in tree.body
    )


def _imports(tree: ast.Module) -> set[str]:
    """Every module named by an import, ``from a import b`` counted as ``a`` and ``a.b``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_sandbox_has_routers_to_check() -> None:
    routers = {name for name, tree in _trees().items() if _defines_router(tree)}
    assert {f"{PACKAGE}.bank", f"{PACKAGE}.hosted", f"{PACKAGE}.control"} <= routers
    assert len(routers) >= 6, routers


def test_no_sandbox_router_imports_another_router() -> None:
    trees = _trees()
    routers = {name for name, tree in trees.items() if _defines_router(tree)}
    crossings = sorted(
        (name, imported)
        for name in routers
        for imported in _imports(trees[name]) & routers
        if imported != name
    )
    assert crossings == []
