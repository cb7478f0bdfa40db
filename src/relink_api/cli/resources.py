"""What a command opens and closes, in one place: logging, the database (``DATABASE_URL`` or
the embedded PostgreSQL) with its migrations applied, and the Stripe gateway behind the
budget every process shares."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from relink_api.cli.config import ConfigProblem
from relink_api.db import Database
from relink_api.db.migrate import Migration
from relink_api.db.opening import connect_database, migrate_database
from relink_api.gateway.client import StripeGateway
from relink_api.logs import chosen_format, configure_logging
from relink_api.ratelimit.service import stripe_budget
from relink_api.settings import ConfigurationError, Settings

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Resources:
    """What ``opened`` opened for a command; asking for what it did not open is a bug."""

    settings: Settings
    migrations: list[Migration] = field(default_factory=list)
    """The migrations this command applied (none when the schema was current)."""
    _database: Database | None = None
    _stripe: StripeGateway | None = None

    @property
    def database(self) -> Database:
        if self._database is None:
            raise RuntimeError("this command did not open the database")
        return self._database

    @property
    def stripe(self) -> StripeGateway:
        if self._stripe is None:
            raise RuntimeError("this command did not open the Stripe gateway")
        return self._stripe


@asynccontextmanager
async def opened(
    settings: Settings, *, database: bool = True, stripe: str | None = None
) -> AsyncIterator[Resources]:
    """Configure logging, then open what the command needs and close it, in reverse order,
    whatever happens: the database with its migrations applied (``database``), and the
    gateway to Stripe (``stripe`` says why the command calls Stripe: without
    STRIPE_SECRET_KEY the command stops there, exit status 2). Background work: each HTTP
    attempt waits for its turn at the shared budget rather than failing."""
    key = settings.stripe_secret_key
    if stripe is not None and key is None:
        raise ConfigProblem(f"{stripe}: set STRIPE_SECRET_KEY.")
    configure_logging(
        settings.log_level, chosen_format(settings.log_format, sandbox=settings.sandbox)
    )
    if not database:
        yield Resources(settings)
        return
    async with AsyncExitStack() as stack:
        db = await connect_database(settings)
        stack.push_async_callback(db.close)
        applied = await migrate_database(db, settings)
        gateway = None
        if stripe is not None and key is not None:
            gateway = StripeGateway(
                settings,
                api_key=key.get_secret_value(),
                budget=stripe_budget(db, settings).in_background,
            )
            stack.push_async_callback(gateway.aclose)
        yield Resources(settings, applied, db, gateway)


def run(
    settings: Settings,
    body: Callable[[Resources], Awaitable[T]],
    *,
    database: bool = True,
    stripe: str | None = None,
) -> T:
    """Run ``body`` with what it needs ``opened`` around it. A database that cannot be
    opened is one sentence and exit status 2, as a bad setting is."""

    async def runner() -> T:
        async with opened(settings, database=database, stripe=stripe) as resources:
            return await body(resources)

    try:
        return asyncio.run(runner())
    except ConfigurationError as exc:
        raise ConfigProblem(str(exc)) from None
