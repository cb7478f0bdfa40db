"""The gauges computed from the database when ``/metrics`` is scraped, in the scraping
process only: the delivery queue, and accounts by link health (cached, computed once at a
time). Each query runs under a statement timeout; a gauge whose query fails is left out of
that scrape rather than holding the scrape up or failing it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from relink_api.accounts import service as accounts_service
from relink_api.accounts.schemas import LinkHealth
from relink_api.db import Connection, Database
from relink_api.errors import ProblemError
from relink_api.outbound import deliveries
from relink_api.outbound.deliveries import Backlog

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What a gauge's query may fail with: the database gone or busy, or the statement timeout.
_QUERY_FAILURES = (ProblemError, asyncpg.PostgresError, OSError, TimeoutError)


@asynccontextmanager
async def _bounded_read(db: Database, seconds: float) -> AsyncIterator[Connection]:
    """A read-only transaction whose statements PostgreSQL stops after ``seconds``; the
    wait for a connection counts too, on our side."""
    async with asyncio.timeout(seconds * 2), db.connection() as conn:
        async with conn.transaction(readonly=True):
            await conn.execute(f"SET LOCAL statement_timeout = {max(1, round(seconds * 1000))}")
            yield conn


async def _read(
    db: Database, seconds: float, what: str, query: Callable[[Connection], Awaitable[T]]
) -> T | None:
    try:
        async with _bounded_read(db, seconds) as conn:
            return await query(conn)
    except _QUERY_FAILURES as exc:
        logger.warning("metrics: %s not computed: %s: %s", what, type(exc).__name__, exc)
        return None


class AccountsByHealth:
    """``relink_accounts{link_health}``, counted at most once per ``max_age`` seconds.

    The count scans every account (link health is computed per row), so it is reused
    between scrapes, and concurrent scrapes share the one count in progress. A count that
    fails is not retried before ``max_age`` either: the last good one is shown meanwhile.
    """

    def __init__(self, *, max_age: float, query_seconds: float) -> None:
        self._max_age = max_age
        self._query_seconds = query_seconds
        self._counts: dict[LinkHealth, int] | None = None
        self._counted_at = 0.0  # time.monotonic() of the last good count
        self._tried_at: float | None = None
        self._running: asyncio.Task[None] | None = None

    async def read(self, db: Database) -> tuple[dict[LinkHealth, int], float] | None:
        """The counts and their age in seconds, or ``None`` if none ever succeeded."""
        tried = self._tried_at
        if tried is None or time.monotonic() - tried >= self._max_age:
            if self._running is None:
                self._running = asyncio.create_task(self._count(db), name="metrics-accounts")
            # Shielded: a scrape that gives up must not cancel the count others wait on.
            await asyncio.shield(self._running)
        if self._counts is None:
            return None
        return self._counts, time.monotonic() - self._counted_at

    async def _count(self, db: Database) -> None:
        try:
            at = datetime.now(UTC)
            counts = await _read(
                db,
                self._query_seconds,
                "relink_accounts",
                lambda conn: accounts_service.count_by_health(conn, at=at),
            )
            self._tried_at = time.monotonic()
            if counts is not None:
                self._counts, self._counted_at = counts, self._tried_at
        finally:
            self._running = None


async def read_backlog(db: Database, *, query_seconds: float) -> Backlog | None:
    """The outbound delivery queue now (a count over its partial index)."""
    now = datetime.now(UTC)
    return await _read(
        db,
        query_seconds,
        "relink_outbound_queue_depth",
        lambda conn: deliveries.backlog(conn, now=now),
    )


def accounts_families(read: tuple[dict[LinkHealth, int], float] | None) -> Iterator[Metric]:
    """``relink_accounts`` and the age of its count, unless no count ever succeeded."""
    if read is None:
        return
    counts, age = read
    accounts = GaugeMetricFamily(
        "relink_accounts",
        "Stored accounts by link health (counted at most every "
        "RELINK_METRICS_ACCOUNTS_CACHE_SECONDS).",
        labels=["link_health"],
    )
    for health, count in counts.items():
        accounts.add_metric([health.value], count)
    yield accounts
    yield GaugeMetricFamily(
        "relink_accounts_count_age_seconds",
        "Seconds since relink_accounts was counted.",
        value=age,
    )


def backlog_families(backlog: Backlog | None) -> Iterator[Metric]:
    """``relink_outbound_queue_depth`` and ``relink_outbound_oldest_due_seconds``."""
    if backlog is None:
        return
    yield GaugeMetricFamily(
        "relink_outbound_queue_depth",
        "Outbound deliveries pending (due now, waiting to retry, or being sent).",
        value=backlog.pending,
    )
    yield GaugeMetricFamily(
        "relink_outbound_oldest_due_seconds",
        "How long the oldest due delivery has waited past its time (0 when none is due).",
        value=backlog.oldest_due_seconds,
    )
