"""Delivering the outbox. A worker claims due deliveries in one short transaction (leasing
them), sends without holding a transaction or a connection, then records the attempt and
its consequences in a second one: any number of workers, in any number of processes, deliver
each event to each endpoint once, and a worker that dies mid-send leaves its deliveries due
again when their lease ends."""

from __future__ import annotations

import asyncio
import logging
import random as _random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

from relink_api.db import Connection, Database
from relink_api.errors import ProblemError
from relink_api.metrics.families import OUTBOUND_DELIVERIES
from relink_api.outbound import addresses, backoff, signing, transport
from relink_api.outbound import delivery_repository as deliveries
from relink_api.outbound import endpoint_repository as endpoints
from relink_api.outbound.errors import AddressRefused
from relink_api.outbound.transport import Outcome
from relink_api.settings import Settings

logger = logging.getLogger(__name__)

BATCH = 10
_REFUSED = "refused before connecting"
# The lease outlasts the send's own time limit by this much: time to record the outcome.
LEASE_MARGIN = timedelta(seconds=30)

Clock = Callable[[], datetime]
Random = Callable[[], float]


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A delivery this worker leased, with what it needs to send it."""

    id: str
    event_id: str
    event_type: str
    payload: dict[str, Any]
    endpoint_id: str
    url: str
    attempts: int
    retrying_since: datetime | None
    lease_until: datetime
    secret: str = field(repr=False)
    previous_secret: str | None = field(repr=False)
    previous_secret_expires_at: datetime | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> _Claimed:
        names = [name for name in cls.__dataclass_fields__ if name != "lease_until"]
        return cls(**{name: row[name] for name in names}, lease_until=row["next_attempt_at"])


async def deliver_due(
    db: Database,
    settings: Settings,
    *,
    now: datetime,
    client: httpx.AsyncClient,
    random: Random = _random.random,
    limit: int = BATCH,
) -> int:
    """Deliver up to ``limit`` deliveries due at ``now`` (the injected clock decides what is
    due and when to retry; signatures carry the real time); how many were attempted."""
    lease_until = now + timedelta(seconds=settings.outbound_timeout_seconds) + LEASE_MARGIN
    async with db.transaction() as conn:
        rows = await deliveries.claim_due(conn, now=now, lease_until=lease_until, limit=limit)
    claimed = [_Claimed.from_row(row) for row in rows]
    await asyncio.gather(
        *(_deliver(db, settings, item, now=now, client=client, random=random) for item in claimed)
    )
    return len(claimed)


def _signing_secrets(item: _Claimed, now: datetime) -> list[str]:
    found = [item.secret]
    expires = item.previous_secret_expires_at
    if item.previous_secret is not None and expires is not None and now < expires:
        found.append(item.previous_secret)
    return found


async def _send(
    settings: Settings, item: _Claimed, *, now: datetime, client: httpx.AsyncClient
) -> Outcome:
    parts = urlsplit(item.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        address = await addresses.vetted_address(
            host, port, allow_private=addresses.allows_private(settings)
        )
    except AddressRefused as exc:
        return Outcome(None, f"{_REFUSED}: {exc}", 0)
    body = signing.body(item.payload)
    headers = signing.headers(
        event_id=item.event_id,
        body=body,
        signing_secrets=_signing_secrets(item, now),
        sent_at=wall_clock(),
    )
    return await transport.post(
        client,
        item.url,
        address,
        headers=headers,
        body=body,
        timeout_seconds=settings.outbound_timeout_seconds,
    )


async def _deliver(
    db: Database,
    settings: Settings,
    item: _Claimed,
    *,
    now: datetime,
    client: httpx.AsyncClient,
    random: Random,
) -> None:
    outcome = await _send(settings, item, now=now, client=client)
    attempt = item.attempts + 1
    window_end = (item.retrying_since or now) + timedelta(hours=settings.outbound_retry_hours)
    next_at: datetime | None = None
    if outcome.delivered:
        status = "delivered"
    else:
        next_at = now + backoff.delay(attempt, random)
        status = "pending" if next_at <= window_end else "failed"
        next_at = next_at if status == "pending" else None
    async with db.transaction() as conn:
        await deliveries.insert_attempt(
            conn,
            delivery_id=item.id,
            at=now,
            status=outcome.status,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
        settled = await deliveries.settle(
            conn,
            delivery_id=item.id,
            lease_until=item.lease_until,
            at=now,
            status=status,
            next_attempt_at=next_at,
        )
        if outcome.delivered:
            await endpoints.note_success(conn, item.endpoint_id, at=now)
        else:
            await _note_failure(conn, settings, item.endpoint_id, now=now)
    gave_up = status == "failed" and settled
    OUTBOUND_DELIVERIES.labels(_attempt_result(outcome, gave_up=gave_up)).inc()
    logger.info(
        "outbound delivery %s: event %s (%s) to endpoint %s, attempt %d: %s in %d ms%s",
        item.id,
        item.event_id,
        item.event_type,
        item.endpoint_id,
        attempt,
        outcome.status if outcome.status is not None else outcome.error,
        outcome.duration_ms,
        "" if settled else " (taken over meanwhile; outcome not applied)",
    )
    if status == "failed" and settled:
        logger.warning(
            "outbound delivery %s of event %s to endpoint %s failed: no success within %g "
            "hours of retries",
            item.id,
            item.event_id,
            item.endpoint_id,
            settings.outbound_retry_hours,
        )


def _attempt_result(outcome: Outcome, *, gave_up: bool) -> str:
    """The ``result`` label of relink_outbound_delivery_attempts: ``delivered``;
    ``gave_up`` when a failure ends the retries; else ``refused_address`` when the address
    was refused before connecting, or ``failed`` (no answer, or not a 2xx) to be retried."""
    if outcome.delivered:
        return "delivered"
    if gave_up:
        return "gave_up"
    if outcome.status is None and (outcome.error or "").startswith(_REFUSED):
        return "refused_address"
    return "failed"


async def _note_failure(
    conn: Connection, settings: Settings, endpoint_id: str, *, now: datetime
) -> None:
    row = await endpoints.note_failure(conn, endpoint_id, at=now)
    limit = timedelta(hours=settings.outbound_disable_after_hours)
    if row["status"] == "enabled" and now - row["failing_since"] >= limit:
        await endpoints.disable(conn, endpoint_id, reason="failing", at=now)
        logger.warning(
            "webhook endpoint %s disabled: every delivery failed since %s (over %g hours); "
            "its pending deliveries are marked failed; enable it and redeliver when it is fixed",
            endpoint_id,
            row["failing_since"].isoformat(),
            settings.outbound_disable_after_hours,
        )


async def run_delivery_loop(
    db: Database,
    settings: Settings,
    *,
    clock: Clock = wall_clock,
    client: httpx.AsyncClient | None = None,
) -> None:
    """Deliver what is due, forever: straight on while there is a backlog, else every
    ``outbound_poll_seconds``. A failing round is logged and the loop goes on."""
    own = client is None
    http = client or transport.new_client(settings.outbound_timeout_seconds)
    try:
        while True:
            try:
                attempted = await deliver_due(db, settings, now=clock(), client=http)
            except asyncio.CancelledError:
                raise
            except ProblemError as exc:
                # The database restarting, say: a later round will manage.
                logger.warning("outbound delivery round failed: %s", exc.detail)
                attempted = 0
            except Exception:
                logger.exception("outbound delivery round failed")
                attempted = 0
            if attempted < BATCH:
                await asyncio.sleep(settings.outbound_poll_seconds)
    finally:
        if own:
            await http.aclose()


def delivery_loops(
    db: Database, settings: Settings, count: int
) -> list[tuple[str, Coroutine[Any, Any, None]]]:
    """``count`` delivery loops, named, for a process to run beside its other work."""
    return [
        (f"outbound-delivery-{number}", run_delivery_loop(db, settings))
        for number in range(1, count + 1)
    ]
