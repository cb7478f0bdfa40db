"""Shared fixtures: one embedded PostgreSQL per test run, a fresh database per test (cloned
from a migrated template), the app with its lifespan, and respx standing in for Stripe."""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import certifi
import httpx
import pytest
import respx
import stripe
from fastapi import FastAPI

from relink_api.accounts import state
from relink_api.accounts.models import Source
from relink_api.accounts.state import Observation, Read, read_time
from relink_api.app import create_app
from relink_api.auth import mint_token
from relink_api.db import Database
from relink_api.db.embedded import start_embedded_postgres
from relink_api.db.migrate import apply_migrations
from relink_api.gateway.objects import FcAccount
from relink_api.settings import Settings
from tests.database_pool import DatabasePool
from tests.factories import API, fc_account
from tests.support import restored_logging

JWT_SECRET = "test-secret-that-is-at-least-32-bytes-long"
WEBHOOK_SECRET = "whsec_testcurrent"
TEMPLATE = "relink_template"

Seed = Callable[..., Awaitable[dict[str, Any]]]

UNLIMITED: dict[str, Any] = {
    "rate_limit_customer_per_minute": 6000,
    "rate_limit_customer_burst": 1000,
    "rate_limit_operator_per_minute": 6000,
    "rate_limit_operator_burst": 1000,
    "rate_limit_failed_guesses_per_minute": 6000,
    "rate_limit_failed_guesses_burst": 1000,
    "stripe_requests_per_second": 100,
    "stripe_requests_burst": 100,
}


# The CA bundles every app loads into new TLS contexts: Stripe's (twice per app: the SDK's
# client and gateway/client.py) and certifi's (every httpx client with the default verify).
CA_BUNDLES = frozenset({stripe.ca_bundle_path, certifi.where()})


@pytest.fixture(scope="session", autouse=True)
def _ca_bundles_loaded_once() -> Iterator[None]:
    """Loading a CA bundle takes 15-35 ms, a third of an app's start: the tests share one
    context per bundle instead. It holds the same CAs and verifies as a new one does (only
    the product's own defaults are shared; a context made any other way is made anew)."""
    create = ssl.create_default_context

    @functools.cache
    def loaded(cafile: str) -> ssl.SSLContext:
        return create(cafile=cafile)

    def create_default_context(
        purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH,
        *,
        cafile: str | None = None,
        capath: str | None = None,
        cadata: str | bytes | None = None,
    ) -> ssl.SSLContext:
        shared = cafile in CA_BUNDLES and not (capath or cadata)
        if purpose == ssl.Purpose.SERVER_AUTH and shared:
            return loaded(cafile)
        return create(purpose, cafile=cafile, capath=capath, cadata=cadata)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ssl, "create_default_context", create_default_context)
        yield


@pytest.fixture(scope="session")
async def pg_admin_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An embedded PostgreSQL for the whole run, with a migrated template database."""
    dsn = await start_embedded_postgres(tmp_path_factory.mktemp("pg"), database=TEMPLATE)
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn)  # type: ignore[arg-type]
    finally:
        await conn.close()
    return dsn


@pytest.fixture(scope="session")
async def database_pool(pg_admin_dsn: str) -> AsyncIterator[DatabasePool]:
    pool = DatabasePool(pg_admin_dsn, TEMPLATE)
    await pool.open()
    yield pool
    await pool.close()


@pytest.fixture
async def database_url(database_pool: DatabasePool) -> AsyncIterator[str]:
    """A database of its own for each test, as the migrated template is (tests.database_pool:
    a reset one, or a new clone)."""
    dsn = await database_pool.take()
    try:
        yield dsn
    finally:
        await database_pool.give_back(dsn)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "stripe_secret_key": "sk_test_relink123",
        "stripe_publishable_key": "pk_test_relink123",
        "stripe_webhook_secrets": WEBHOOK_SECRET,
        "auth_jwt_secret": JWT_SECRET,
        "database_url": database_url,
        "data_dir": Path("/nonexistent-data-dir"),
        # Retries are exercised in their own test; elsewhere one attempt keeps tests fast.
        "stripe_max_network_retries": 0,
        "return_url_allowlist": ["https://app.example.com", "exampleapp://"],
        "business_name": "Example Shop",
        # Rate limits (issue 11): tests drive one customer, one admin key and one address
        # far harder than a person would; the limits' own tests set theirs.
        **UNLIMITED,
        # Delivery workers and the reminder scheduler run on their own clock; the tests that
        # exercise them turn them on, the others would only race them (issue 16).
        "outbound_workers": 0,
        "reminder_interval_seconds": 0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def stripe_mock() -> Iterator[respx.MockRouter]:
    """Stripe at the HTTP layer. Unmatched requests fail the test: nothing reaches a network."""
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
async def app(settings: Settings, stripe_mock: respx.MockRouter) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def db(app: FastAPI) -> Database:
    database: Database = app.state.database
    return database


def bearer(settings: Settings, customer_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, customer_id)}"}


@pytest.fixture
def auth_a(settings: Settings) -> dict[str, str]:
    return bearer(settings, "cus_A")


@pytest.fixture
def auth_b(settings: Settings) -> dict[str, str]:
    return bearer(settings, "cus_B")


@pytest.fixture
def seed(db: Database) -> Seed:
    """Store an account as if Stripe had reported it (``fc_account`` keyword arguments).

    ``as_of`` is the Stripe time the stored state describes: by default an hour ago, so an
    event created now is newer. ``owner`` owns a holder-less account.
    """

    async def _seed(
        account_id: str = "fca_checking",
        *,
        owner: str | None = None,
        as_of: datetime | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        raw = fc_account(account_id, **kwargs)
        async with db.transaction() as conn:
            await state.apply(
                conn,
                Observation(
                    FcAccount.model_validate(raw),
                    raw,
                    as_of or read_time() - timedelta(hours=1),
                    Read(Source.sync, owner_if_new=owner),
                ),
            )
        return raw

    return _seed


@pytest.fixture
def _restore_logging() -> Iterator[None]:
    with restored_logging():
        yield
