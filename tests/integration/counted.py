"""Fixtures that count what a request costs: the statements the app's pool sends, and the
requests whose dependencies FastAPI resolved. Import the ones a test module uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from fastapi import routing


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement the app's pool sends, in order (requested before the app starts)."""
    sent: list[str] = []
    create_pool = asyncpg.create_pool

    def counted_pool(*args: Any, **kwargs: Any) -> Any:
        init: Callable[[Any], Awaitable[None]] = kwargs["init"]

        async def init_counted(conn: Any) -> None:
            await init(conn)
            conn.add_query_logger(lambda record: sent.append(" ".join(record.query.split())))

        return create_pool(*args, **{**kwargs, "init": init_counted})

    monkeypatch.setattr(asyncpg, "create_pool", counted_pool)
    return sent


@pytest.fixture
def resolved(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The path of each request whose dependencies FastAPI resolved."""
    paths: list[str] = []
    solve = getattr(routing, "solve_dependencies")  # noqa: B009 (not re-exported, for mypy)

    async def counted(*, request: Any, **kwargs: Any) -> Any:
        paths.append(request.url.path)
        return await solve(request=request, **kwargs)

    monkeypatch.setattr(routing, "solve_dependencies", counted)
    return paths
