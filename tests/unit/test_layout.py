"""The layout issue 12 set up, kept true: no module imports another feature's repository or
any router (app.py and the sandbox's mount include them), and no file of the service or the
page is longer than 400 lines."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "relink_api"
FEATURES = {
    "accounts",
    "admin",
    "idempotency",
    "outbound",
    "payments",
    "prompts",
    "ratelimit",
    "reconcile",
    "relink",
    "sandbox",
    "webhooks",
}
# Routers by name; any other module that makes an APIRouter (the sandbox's) is one too.
NAMED_ROUTERS = {"relink_api.page", "relink_api.probes", "relink_api.relink.return_page"}
ROUTER_INCLUDERS = {"relink_api.app", "relink_api.sandbox.mount"}
MAX_LINES = 400
SIZED_SUFFIXES = {".py", ".js", ".css", ".html"}


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    path: Path
    tree: ast.Module

    @property
    def package(self) -> str:
        return self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]

    @property
    def feature(self) -> str | None:
        part = self.name.split(".")[1] if self.name.count(".") else None
        return part if part in FEATURES else None


def _modules() -> dict[str, Module]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = Module(name, path, ast.parse(path.read_text(), str(path)))
    return modules


MODULES = _modules()


def _imports(module: Module) -> Iterator[tuple[int, str]]:
    """Each module ``module`` imports, anywhere in it (functions and TYPE_CHECKING blocks
    included), with the line: ``from a import b`` counts as ``a.b`` where that is a module."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    yield node.lineno, f"{base}.{alias.name}"


def _makes_a_router(module: Module) -> bool:
    return any(
        isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == "APIRouter")
            or (isinstance(node.func, ast.Attribute) and node.func.attr == "APIRouter")
        )
        for node in ast.walk(module.tree)
    )


ROUTERS = {
    name
    for name, module in MODULES.items()
    if name.endswith(".router") or name in NAMED_ROUTERS or _makes_a_router(module)
}


def _where(module: Module, line: int) -> str:
    return f"{module.path.relative_to(ROOT)}:{line}"


def _repository_feature(imported: str) -> str | None:
    parts = imported.split(".")
    # A feature may split its SQL by table (outbound's endpoint_repository, …).
    if (
        len(parts) >= 3
        and parts[0] == "relink_api"
        and (parts[2] == "repository" or parts[2].endswith("_repository"))
    ):
        return parts[1] if parts[1] in FEATURES else None
    return None


def test_router_detection_finds_the_routers() -> None:
    # The walk below is only as good as this list: it must know the feature routers.
    assert {"relink_api.accounts.router", "relink_api.page", "relink_api.probes"} <= ROUTERS
    assert any(name.startswith("relink_api.sandbox.") for name in ROUTERS)


def test_no_module_imports_another_features_repository() -> None:
    offenders = sorted(
        f"{_where(module, line)} imports {imported}"
        for module in MODULES.values()
        for line, imported in _imports(module)
        if (owner := _repository_feature(imported)) is not None and owner != module.feature
    )
    if offenders:
        pytest.fail(
            "a feature's repository is private to it; call its service instead:\n  "
            + "\n  ".join(offenders),
            pytrace=False,
        )


def test_only_the_app_and_the_sandbox_mount_import_routers() -> None:
    offenders = sorted(
        f"{_where(module, line)} imports the router module {imported}"
        for module in MODULES.values()
        if module.name not in ROUTER_INCLUDERS
        for line, imported in _imports(module)
        if imported in ROUTERS and imported != module.name
    )
    if offenders:
        pytest.fail(
            "routers are included by app.py (and the sandbox's mount), never imported "
            "elsewhere; move what is shared out of the router:\n  " + "\n  ".join(offenders),
            pytrace=False,
        )


def _sized_files() -> Iterator[Path]:
    for folder in (ROOT / "src", ROOT / "static"):
        for path in sorted(folder.rglob("*")):
            if path.suffix in SIZED_SUFFIXES and "__pycache__" not in path.parts:
                yield path


def test_no_file_of_the_service_or_the_page_is_over_400_lines() -> None:
    assert any(path.name == "app.py" for path in _sized_files())
    too_long = {
        str(path.relative_to(ROOT)): count
        for path in _sized_files()
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    if too_long:
        pytest.fail(
            f"files over {MAX_LINES} lines; split them by concern:\n  "
            + "\n  ".join(f"{name}: {count} lines" for name, count in sorted(too_long.items())),
            pytrace=False,
        )
