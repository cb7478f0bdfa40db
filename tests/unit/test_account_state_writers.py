"""Account and authorization state have one writer, ``accounts/state.py``: no other module
calls the accounts repository's writes, so every snapshot gets its history row, its
replacement marks and its lock order from the same code."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "src" / "relink_api"
REPOSITORY = "relink_api.accounts.repository"
WRITER = SOURCE / "accounts" / "state.py"
OWN = SOURCE / "accounts" / "repository.py"
# Every write of a snapshot, its history, its owner, its marks or an authorization.
WRITES = frozenset(
    {
        "insert",
        "update_state",
        "insert_history",
        "assign_owner",
        "mark_replacement",
        "upsert_authorization",
    }
)


def _repository_names(tree: ast.Module) -> set[str]:
    """The names a module binds to the accounts repository module."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "relink_api.accounts":
            names |= {
                alias.asname or alias.name for alias in node.names if alias.name == "repository"
            }
        elif isinstance(node, ast.Import):
            names |= {
                alias.asname or alias.name for alias in node.names if alias.name == REPOSITORY
            }
    return names


def _writes(path: Path) -> list[str]:
    """``module:line name`` of each call of a repository write, directly or as an import."""
    tree = ast.parse(path.read_text(), filename=str(path))
    receivers = _repository_names(tree)
    where = path.relative_to(SOURCE)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == REPOSITORY:
            found += [f"{where}:{node.lineno} {a.name}" for a in node.names if a.name in WRITES]
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = ast.unparse(node.func.value)
        if node.func.attr in WRITES and (receiver in receivers or receiver == REPOSITORY):
            found.append(f"{where}:{node.lineno} {node.func.attr}")
    return found


def test_only_accounts_state_writes_account_state() -> None:
    elsewhere = [
        write
        for path in sorted(SOURCE.rglob("*.py"))
        if path not in (WRITER, OWN)
        for write in _writes(path)
    ]
    assert elsewhere == []


def test_the_writer_is_found() -> None:
    # The walk above would pass on any tree if it stopped recognising calls.
    assert {write.rsplit(" ", 1)[1] for write in _writes(WRITER)} >= {
        "insert",
        "update_state",
        "insert_history",
        "upsert_authorization",
    }
