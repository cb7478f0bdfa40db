"""Rate limits: per customer and per operator on the routes that spend the business's
Stripe budget, per client address on failed guesses (admin keys, hosted return links), and
one service-wide budget that every HTTP attempt to Stripe takes from.

Written here rather than taken from a library: the well-kept ones (``limits``, slowapi)
store in memory, Redis, Memcached or MongoDB, none in PostgreSQL, and PostgreSQL is the
only state this service has (docs: DESIGN, "Scale-out").
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from relink_api.db import Database
from relink_api.gateway.errors import StripeRateLimited
from relink_api.ratelimit import repository
from relink_api.ratelimit.coalesced import CoalescedTurns
from relink_api.ratelimit.errors import RateLimited
from relink_api.settings import Settings

STRIPE_KEY = "stripe"
# Background work (sync, import) waits its turn rather than fail; it asks for at most this
# much of the budget's future at once, so it never queues far ahead of requests.
_BACKGROUND_MAX_WAIT = 5.0


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_second`` on average, up to ``burst`` at once."""

    per_second: float
    burst: int

    @classmethod
    def per_minute(cls, count: float, burst: int) -> Rate:
        return cls(per_second=count / 60, burst=burst)

    @property
    def interval(self) -> float:
        return 1 / self.per_second

    @property
    def tolerance(self) -> float:
        return (self.burst - 1) * self.interval


@dataclass(frozen=True, slots=True)
class Decision:
    """``allowed``: go after ``wait`` seconds (0: now). Refused: a request would be let in
    after ``wait`` seconds."""

    allowed: bool
    wait: float


def customer_rate(settings: Settings) -> Rate:
    return Rate.per_minute(
        settings.rate_limit_customer_per_minute, settings.rate_limit_customer_burst
    )


def operator_rate(settings: Settings) -> Rate:
    return Rate.per_minute(
        settings.rate_limit_operator_per_minute, settings.rate_limit_operator_burst
    )


def guess_rate(settings: Settings) -> Rate:
    return Rate.per_minute(
        settings.rate_limit_failed_guesses_per_minute, settings.rate_limit_failed_guesses_burst
    )


def stripe_rate(settings: Settings) -> Rate:
    return Rate(
        per_second=settings.stripe_requests_per_second, burst=settings.stripe_requests_burst
    )


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


async def check(db: Database, *, key: str, rate: Rate, max_wait: float = 0.0) -> Decision:
    """Take one request from ``key``'s bucket if it can go within ``max_wait`` seconds."""
    async with db.connection() as conn:
        checked = await repository.check(
            conn, key=key, interval=rate.interval, tolerance=rate.tolerance, max_wait=max_wait
        )
    if checked.allowed:
        # `ahead` now includes this request's own interval.
        return Decision(allowed=True, wait=max(0.0, checked.ahead - rate.burst * rate.interval))
    return Decision(allowed=False, wait=max(0.0, checked.ahead - rate.tolerance))


async def enforce(db: Database, *, key: str, rate: Rate, what: str) -> None:
    """Count a request against ``key``, or refuse it with 429 and the real ``Retry-After``."""
    decision = await check(db, key=key, rate=rate)
    if not decision.allowed:
        after = retry_after(decision.wait)
        raise RateLimited(
            f"Too many {what}; retry in {after} seconds.", headers={"Retry-After": after}
        )


async def give_back(db: Database, *, key: str, rate: Rate) -> None:
    """Return a request taken by ``check`` that turned out not to count."""
    async with db.connection() as conn:
        await repository.give_back(conn, key=key, interval=rate.interval)


class StripeBudget:
    """The service-wide budget of HTTP attempts to Stripe, shared by every process, kept
    below Stripe's own limit so that no burst of ours earns a 429 from Stripe."""

    def __init__(self, db: Database, rate: Rate, *, max_wait: float) -> None:
        self._db = db
        self._rate = rate
        self._max_wait = max_wait
        # A request's attempts take their turns together with the process's other
        # requests' (one statement for all that asked at once), not one statement each.
        self.turns = CoalescedTurns(
            db, key=STRIPE_KEY, interval=rate.interval, tolerance=rate.tolerance, max_wait=max_wait
        )

    async def on_request_path(self) -> None:
        """Wait (briefly) for a turn, or fail with 503 ``stripe-rate-limited``."""
        turn = await self.turns.take()
        if not turn.allowed:
            raise StripeRateLimited(
                "This service is using its whole Stripe request budget; nothing was sent to "
                "Stripe. Retry shortly.",
                headers={"Retry-After": retry_after(turn.wait - self._max_wait)},
            )
        if turn.wait > 0:
            await asyncio.sleep(turn.wait)

    async def in_background(self) -> None:
        """Wait as long as it takes for a turn (reconciliation and imports)."""
        while True:
            decision = await check(
                self._db, key=STRIPE_KEY, rate=self._rate, max_wait=_BACKGROUND_MAX_WAIT
            )
            if decision.allowed:
                if decision.wait > 0:
                    await asyncio.sleep(decision.wait)
                return
            await asyncio.sleep(decision.wait - _BACKGROUND_MAX_WAIT)


def stripe_budget(db: Database, settings: Settings) -> StripeBudget:
    return StripeBudget(db, stripe_rate(settings), max_wait=settings.stripe_budget_wait_seconds)


async def prune(db: Database) -> int:
    """Delete the rows of keys whose buckets are full again; how many were deleted."""
    async with db.transaction() as conn:
        return await repository.prune(conn)
