"""Group commit of webhook account events (``accounts.at_once_batch``, migration 0017):
deliveries that arrive together are applied by one statement in one transaction, leaving
what applying them one by one leaves; a batch that fails commits nothing and each of its
events is applied alone; an event the statement declines takes the service's own path."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from relink_api.accounts import at_once_batch, state
from relink_api.accounts.state import read_time
from relink_api.db import Database
from tests.conftest import Seed
from tests.factories import fc_account
from tests.integration.test_webhook_at_once import (
    SAME_ROWS,
    delivered,
    recorded,
    stored,
    waiting_on_a_lock,
)
from tests.integration.test_webhook_round_trips import kinds, statements
from tests.stripe_events import deliver, event

__all__ = ["statements"]  # the fixture, shared with test_webhook_round_trips

# Each statement that applies account events: alone (migration 0015), or a batch (0017).
CALLS = {
    "SELECT relink_apply_account_event(": "one",
    "SELECT relink_apply_account_events(": "batch",
}


async def together(db: Database, *deliveries: Any) -> list[Any]:
    """Each delivery's result through the batches, all started on the same loop turn: they
    go in one batch, which starts on the next."""
    return await asyncio.gather(
        *(at_once_batch.apply_at_once(db, o, e, d) for e, d, o in deliveries)
    )


async def calls(statements: list[str]) -> list[str]:
    """The calls among the statements sent, in order: ``one`` or ``batch``."""
    await asyncio.sleep(0)  # query loggers run on the next loop turn
    return [CALLS[s[: s.index("(") + 1]] for s in statements if s[: s.find("(") + 1] in CALLS]


def no_transaction_block(statements: list[str]) -> None:
    """Each call was its own transaction: one commit each, no BEGIN or COMMIT sent."""
    assert not [s for s in statements if s.startswith(("BEGIN", "COMMIT"))], kinds(statements)


async def test_a_batch_leaves_what_one_by_one_leaves(
    statements: list[str], db: Database, seed: Seed
) -> None:
    cases = list(SAME_ROWS.items())
    # One Stripe time for every seed, so that no pair's stored times fall either side of a
    # second's boundary.
    as_of = read_time() - timedelta(hours=1)
    for n, (_, (first, _, _)) in enumerate(cases):
        if first is not None:
            for account_id in (f"fca_batched{n}", f"fca_alone{n}"):
                await seed(account_id, as_of=as_of, **first)
    batched, alone = [], []
    for n, (_, (_, account, result)) in enumerate(cases):
        created = int(time.time()) - (7200 if result == "stale" else 0)
        batched.append(delivered(f"fca_batched{n}", created=created, **account))
        alone.append(delivered(f"fca_alone{n}", created=created, **account))
    await asyncio.sleep(0)
    statements.clear()

    outcomes = await together(db, *batched)

    # One statement, its own transaction.
    assert await calls(statements) == ["batch"]
    no_transaction_block(statements)
    for n, (case, (_, _, result)) in enumerate(cases):
        event = batched[n][0]
        twin_event, twin_document, twin = alone[n]
        async with db.connection() as conn:
            assert await state.apply_at_once(conn, twin, twin_event, twin_document) == result
        assert outcomes[n] == result, case
        one, other = await stored(db, f"fca_batched{n}"), await stored(db, f"fca_alone{n}")
        assert (case, one) == (case, other)
        assert await recorded(db, event.id) == result, case


async def test_concurrent_deliveries_share_one_statement_and_one_commit(
    statements: list[str], client: httpx.AsyncClient, db: Database
) -> None:
    documents = [
        event("financial_connections.account.created", fc_account(f"fca_many{n:02d}"))
        for n in range(16)
    ]
    await asyncio.sleep(0)
    statements.clear()

    responses = await asyncio.gather(*(deliver(client, document) for document in documents))

    assert [r.json()["result"] for r in responses] == ["applied"] * 16
    # One statement per batch, each its own transaction: far fewer than one per delivery.
    sent = await calls(statements)
    assert "batch" in sent, sent
    assert len(sent) <= 4, sent
    no_transaction_block(statements)
    for document in documents:
        assert await recorded(db, document["id"]) == "applied"


async def test_a_failing_batch_leaves_each_event_to_be_applied_alone(
    client: httpx.AsyncClient, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    # PostgreSQL cannot store a NUL character: that event fails its whole batch.
    names = ["Bills", "Bi\x00lls", "Rent", "Savings"]
    documents = [
        event(
            "financial_connections.account.created",
            fc_account(f"fca_mixed{n}", display_name=name),
        )
        for n, name in enumerate(names * 2)
    ]

    responses = await asyncio.gather(*(deliver(client, document) for document in documents))

    for document, response in zip(documents, responses, strict=True):
        bad = "\x00" in document["data"]["object"]["display_name"]
        # The bad one answered as it is without batches; the others applied all the same.
        assert response.status_code == (500 if bad else 200), response.text
        assert await recorded(db, document["id"]) == (None if bad else "applied")
    assert "committed nothing" in caplog.text


async def test_an_event_the_batch_declines_takes_the_service_path(
    statements: list[str], client: httpx.AsyncClient, db: Database, seed: Seed
) -> None:
    await seed("fca_breaks")
    broken = fc_account(
        "fca_breaks", status="inactive", action="relink_required", cause="access_expired"
    )
    documents = [
        event("financial_connections.account.created", fc_account("fca_joins0")),
        event("financial_connections.account.deactivated", broken),
        event("financial_connections.account.created", fc_account("fca_joins1")),
    ]

    await asyncio.sleep(0)
    statements.clear()

    responses = await asyncio.gather(*(deliver(client, document) for document in documents))

    assert [r.json()["result"] for r in responses] == ["applied"] * 3
    # The batch applied the two new accounts and declined the break, which then took the
    # service's transaction.
    assert await calls(statements) == ["batch"]
    assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == ["BEGIN;", "COMMIT;"]
    async with db.connection() as conn:
        history = await conn.fetch(
            "SELECT from_health, to_health, event_id FROM account_status_history "
            "WHERE account_id = 'fca_breaks' AND source = 'webhook'"
        )
        outbound = await conn.fetchval(
            "SELECT count(*) FROM outbound_events WHERE account_id = 'fca_breaks'"
        )
    # The transition, with what only the service writes for it (its outbound event).
    assert [dict(row) for row in history] == [
        {"from_health": "ok", "to_health": "relink_required", "event_id": documents[1]["id"]}
    ]
    assert outbound >= 1


async def test_an_accounts_events_keep_their_order_in_a_batch(db: Database) -> None:
    now = int(time.time())
    first = delivered("fca_ordered", created=now - 1, display_name="One")
    between = delivered("fca_another", created=now, display_name="Other")
    second = delivered("fca_ordered", created=now, display_name="Two")
    broken = delivered("fca_ordered", created=now + 1, status="inactive", action="relink_required")
    last = delivered("fca_ordered", created=now + 2, display_name="Three")

    # One batch, sorted by account, the ordered account's events in their order: a new
    # account, then its update; then a break the statement declines, and an event after
    # it, which must not overtake it.
    outcomes = await together(db, first, between, second, broken, last)

    assert outcomes == ["applied", "applied", "applied", None, None]
    assert (await stored(db, "fca_ordered"))["row"]["display_name"] == "Two"
    assert await recorded(db, broken[0].id) is None
    assert await recorded(db, last[0].id) is None


async def test_a_delivery_cancelled_while_it_waits_is_not_applied(db: Database) -> None:
    blocked, gone, stays = (delivered(f"fca_wait{n}") for n in range(3))
    async with db.transaction() as holder:
        # The first batch waits on this lock, the others queue behind it.
        await holder.execute("LOCK TABLE webhook_events IN EXCLUSIVE MODE")
        tasks = [asyncio.create_task(together(db, blocked))]
        await waiting_on_a_lock(db)
        tasks += [asyncio.create_task(together(db, d)) for d in (gone, stays)]
        for _ in range(3):
            await asyncio.sleep(0)  # queued
        tasks[1].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    await at_once_batch.batches(db).drain()

    assert isinstance(done[1], asyncio.CancelledError)
    assert (done[0], done[2]) == (["applied"], ["applied"])
    assert await recorded(db, gone[0].id) is None
    assert [await recorded(db, d[0].id) for d in (blocked, stays)] == ["applied", "applied"]
