"""Helpers shared by test modules: an app of one's own, scratch databases, problem checks."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from relink_api.app import create_app
from relink_api.settings import Settings


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app for these settings with its lifespan running, and a client for it."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


def dsn_for(dsn: str, database: str) -> str:
    """The same server, another database. pgserver DSNs: postgresql://postgres:@/<db>?host=…"""
    head, _, query = dsn.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{database}?{query}"


@asynccontextmanager
async def scratch_database(
    admin_dsn: str, *, prefix: str, template: str | None = None
) -> AsyncIterator[str]:
    """A database that exists for the block (cloned from ``template`` when given)."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    clause = f' TEMPLATE "{template}"' if template else ""
    admin = await asyncpg.connect(dsn_for(admin_dsn, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await admin.close()
    try:
        yield dsn_for(admin_dsn, name)
    finally:
        admin = await asyncpg.connect(dsn_for(admin_dsn, "postgres"))
        try:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def assert_problem(
    response: httpx.Response, status: int, slug: str, *, instance: str | None = None
) -> dict[str, Any]:
    """The response is an RFC 9457 problem of this status and type; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["type"] == f"/problems/{slug}"
    assert problem["status"] == status
    if instance is not None:
        assert problem["instance"] == instance
    return problem


def at(unix: int) -> datetime:
    """A Stripe timestamp as the aware datetime the API returns."""
    return datetime.fromtimestamp(unix, tz=UTC)


def parsed(value: str | None) -> datetime | None:
    """An API timestamp (ISO 8601, maybe with Z) as an aware datetime."""
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


@contextmanager
def restored_logging() -> Iterator[None]:
    """CLI commands configure process-wide logging; give the next tests theirs back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
