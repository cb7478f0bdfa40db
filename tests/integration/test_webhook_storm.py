"""A storm of signed deliveries: shuffled, duplicated, concurrent. Nothing lost, nothing 5xx,
and every account ends in the state of its newest event."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from relink_api.db import Database
from relink_api.gateway.objects import FcAccount
from tests.conftest import Seed
from tests.factories import fc_account
from tests.stripe_events import deliver, event

ACCOUNTS = 300
CUSTOMERS = 10
EVENTS = 2500
DUPLICATE_SHARE = 0.3
CONCURRENCY = 32
DAY = 86_400
PREFIX = "financial_connections.account."
TYPES = ("deactivated", "reactivated", "upcoming_deactivation", "account_numbers_updated")
INACTIVE_CAUSES = ("access_expired", "access_denied", "account_unavailable", "unspecified")


def account_id(index: int) -> str:
    return f"fca_s{index:03d}"


def customer_of(index: int) -> str:
    return f"cus_s{index % CUSTOMERS}"


def snapshot(kind: str, index: int, created: int, rng: random.Random) -> dict[str, Any]:
    """The full account as Stripe would render it in an event of this kind."""
    common: dict[str, Any] = {"customer": customer_of(index), "display_name": f"Storm {index}"}
    if kind == "deactivated":
        cause = rng.choice(INACTIVE_CAUSES)
        return fc_account(
            account_id(index), status="inactive", action="relink_required", cause=cause, **common
        )
    if kind == "reactivated":
        return fc_account(account_id(index), status="active", **common)
    if kind == "upcoming_deactivation":
        return fc_account(
            account_id(index),
            status="active",
            action="relink_required",
            cause="access_expired",
            expected_deactivation_date=created + 30 * DAY,
            **common,
        )
    assert kind == "account_numbers_updated"
    numbers = [
        {
            "identifier_type": "tokenized_account_number",
            "status": "transactable",
            "expected_expiry_date": created + rng.randrange(10, 400) * DAY,
            "supported_networks": ["ach"],
        }
    ]
    return fc_account(account_id(index), status="active", account_numbers=numbers, **common)


@dataclass(slots=True)
class Delivery:
    document: dict[str, Any]
    start: float = 0.0
    end: float = 0.0
    status: int | None = None
    result: str | None = None
    error: BaseException | None = None


async def test_a_storm_of_shuffled_duplicated_events_leaves_every_account_at_its_newest_event(
    client: httpx.AsyncClient, db: Database, seed: Seed
) -> None:
    rng = random.Random(20240611)
    # Stored an hour ago, in a mix of states, so every event is newer than the seed.
    seeded_states: list[dict[str, Any]] = [
        {"status": "active"},
        {"status": "inactive", "action": "relink_required", "cause": "access_expired"},
        {
            "status": "active",
            "action": "relink_required",
            "expected_deactivation_date": 1_900_000_000,
        },
    ]
    for index in range(ACCOUNTS):
        state = seeded_states[index % len(seeded_states)]
        await seed(account_id(index), customer=customer_of(index), **state)

    # Distinct events; `created` rises with each step, so strictly per account too.
    base = int(time.time()) - 3000
    events: list[dict[str, Any]] = []
    newest: dict[str, dict[str, Any]] = {}
    by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for step in range(EVENTS):
        index = rng.randrange(ACCOUNTS)
        kind = rng.choice(TYPES)
        created = base + step
        document = event(
            PREFIX + kind,
            snapshot(kind, index, created, rng),
            event_id=f"evt_storm{step:05d}",
            created=created,
        )
        events.append(document)
        newest[account_id(index)] = document
        by_account[account_id(index)].append(document)
    assert len({document["id"] for document in events}) == EVENTS

    # 30 % redeliveries of the same id and body; deliver() signs each one afresh.
    deliveries = [Delivery(document) for document in events]
    deliveries += [
        Delivery(document) for document in rng.sample(events, int(EVENTS * DUPLICATE_SHARE))
    ]
    rng.shuffle(deliveries)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def send(delivery: Delivery) -> None:
        async with gate:
            delivery.start = time.monotonic()
            try:
                response = await deliver(client, delivery.document)
            except Exception as exc:  # an unhandled error in the app surfaces here
                delivery.error = exc
                return
            finally:
                delivery.end = time.monotonic()
            delivery.status = response.status_code
            if response.status_code == 200:
                delivery.result = response.json()["result"]

    await asyncio.gather(*(send(delivery) for delivery in deliveries))

    # No 5xx, no exception: every delivery was answered 200.
    errors = [repr(delivery.error) for delivery in deliveries if delivery.error is not None]
    assert errors == []
    statuses = Counter(delivery.status for delivery in deliveries)
    assert statuses == {200: len(deliveries)}, statuses

    # No event lost, none recorded twice; each applied or found stale by exactly one delivery.
    async with db.connection() as conn:
        rows = await conn.fetch("SELECT id, result FROM webhook_events")
        stored_rows = await conn.fetch(
            "SELECT id, customer_id, status, action, cause, expected_deactivation_at,"
            " account_number_expires_at, state_as_of FROM accounts"
        )
        history_rows = await conn.fetch(
            "SELECT event_id FROM account_status_history WHERE source = 'webhook'"
        )
    stored_results = {row["id"]: row["result"] for row in rows}
    assert len(rows) == EVENTS
    assert set(stored_results) == {document["id"] for document in events}
    assert set(stored_results.values()) <= {"applied", "stale"}
    answered: dict[str, list[str]] = defaultdict(list)
    for delivery in deliveries:
        assert delivery.result is not None
        answered[delivery.document["id"]].append(delivery.result)
    for event_id, results in answered.items():
        first = [result for result in results if result != "duplicate"]
        assert first == [stored_results[event_id]], (event_id, results)

    # Every account holds the snapshot of its newest event, whatever order they came in.
    stored = {row["id"]: row for row in stored_rows}
    assert len(stored) == ACCOUNTS
    mismatched = []
    for index in range(ACCOUNTS):
        row = stored[account_id(index)]
        document = newest[account_id(index)]
        expected = FcAccount.model_validate(document["data"]["object"])
        want = (
            customer_of(index),
            expected.status,
            expected.action,
            expected.cause,
            expected.expected_deactivation_at,
            expected.account_number_expires_at,
            datetime.fromtimestamp(document["created"], tz=UTC),
        )
        got = (
            row["customer_id"],
            row["status"],
            row["action"],
            row["cause"],
            row["expected_deactivation_at"],
            row["account_number_expires_at"],
            row["state_as_of"],
        )
        if got != want:
            mismatched.append((account_id(index), document["id"], got, want))
    assert mismatched == []
    assert all(stored_results[document["id"]] == "applied" for document in newest.values())

    # Order, as far as the clock can tell it: an event whose first delivery began after a
    # newer event of its account had been committed is stale; one committed before any
    # newer event of its account was sent is applied. Overlapping ones may be either.
    recorded = {
        delivery.document["id"]: delivery
        for delivery in deliveries
        if delivery.result != "duplicate"
    }
    must_be_stale: set[str] = set()
    must_be_applied: set[str] = set()
    for documents in by_account.values():
        for position, document in enumerate(documents):
            mine = recorded[document["id"]]
            later = [recorded[newer["id"]] for newer in documents[position + 1 :]]
            if any(newer.end < mine.start for newer in later):
                must_be_stale.add(document["id"])
            elif all(mine.end < newer.start for newer in later):
                must_be_applied.add(document["id"])
    assert must_be_stale, "the shuffle produced no event that arrived after a newer one"
    assert {event_id: stored_results[event_id] for event_id in must_be_stale} == dict.fromkeys(
        must_be_stale, "stale"
    )
    assert {event_id: stored_results[event_id] for event_id in must_be_applied} == dict.fromkeys(
        must_be_applied, "applied"
    )

    # A stale event changed nothing, so it wrote no history; no event wrote two rows.
    history_events = Counter(row["event_id"] for row in history_rows)
    assert [event_id for event_id, count in history_events.items() if count > 1] == []
    assert {event_id for event_id in history_events if stored_results[event_id] == "stale"} == set()
