"""What one webhook delivery costs the database, statement by statement: every statement is
a round trip, and ingest throughput is bound by them. Counted on the app's own pool, so a
return to a transaction for an event one statement can apply, a pre-check, a separate mark
of the event, or a re-read after each write fails."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from relink_api.db import Database
from tests.conftest import Seed
from tests.factories import fc_account
from tests.integration import counted
from tests.stripe_events import deliver, event

statements = counted.statements


async def sent_by(
    statements: list[str], client: httpx.AsyncClient, document: dict[str, Any], result: str
) -> list[str]:
    """The statements one delivery of ``document`` sends; it must end as ``result``."""
    await asyncio.sleep(0)  # query loggers run on the next loop turn
    statements.clear()
    response = await deliver(client, document)
    assert response.status_code == 200, response.text
    assert response.json()["result"] == result
    await asyncio.sleep(0)
    return list(statements)


def kinds(sent: list[str]) -> list[str]:
    """Each statement's first words: enough to read the sequence in a failure."""
    return [" ".join(statement.split()[:3]) for statement in sent]


ONE_STATEMENT = "SELECT relink_apply_account_event("


def at_once(sent: list[str]) -> None:
    """The delivery was one statement (and the pool's reset): no transaction block."""
    assert len(sent) <= 2, kinds(sent)
    assert sent[0].startswith(ONE_STATEMENT), kinds(sent)


async def test_an_event_that_changes_nothing_is_one_statement(
    statements: list[str], client: httpx.AsyncClient, seed: Seed
) -> None:
    await seed("fca_steady")
    document = event(
        "financial_connections.account.account_numbers_updated", fc_account("fca_steady")
    )
    # The event recorded and the snapshot stored by one function call, its own transaction.
    at_once(await sent_by(statements, client, document, "applied"))
    # A redelivery, and an older event, are the same one statement.
    at_once(await sent_by(statements, client, document, "duplicate"))
    older = event(
        "financial_connections.account.account_numbers_updated",
        fc_account("fca_steady"),
        created=document["created"] - 60,
    )
    at_once(await sent_by(statements, client, older, "stale"))


async def test_an_event_that_links_a_new_healthy_account_is_one_statement(
    statements: list[str], client: httpx.AsyncClient
) -> None:
    document = event("financial_connections.account.created", fc_account("fca_new"))
    # The account inserted, its history row and the event, in one statement.
    at_once(await sent_by(statements, client, document, "applied"))


async def test_an_event_that_breaks_an_account_adds_only_its_history_and_prompt(
    statements: list[str], client: httpx.AsyncClient, seed: Seed
) -> None:
    await seed("fca_breaking")
    broken = fc_account(
        "fca_breaking", status="inactive", action="relink_required", cause="access_expired"
    )
    document = event("financial_connections.account.deactivated", broken)
    sent = await sent_by(statements, client, document, "applied")
    # The one statement declines (it writes nothing, on the same connection), then BEGIN,
    # the row locked and read, the snapshot stored, the history row, the outbound event, the
    # episode it opens, the event recorded, COMMIT and the pool's reset.
    assert len(sent) <= 10, kinds(sent)
    assert sent[0].startswith(ONE_STATEMENT), kinds(sent)
    assert sum(statement.startswith("UPDATE") for statement in sent) == 1, kinds(sent)


async def test_an_event_relink_api_does_not_act_on_is_one_statement(
    statements: list[str], client: httpx.AsyncClient
) -> None:
    document = event("customer.updated", {"id": "cus_A", "object": "customer"})
    sent = await sent_by(statements, client, document, "ignored")
    # The event recorded (and the pool's reset): no transaction, no pre-check.
    assert len(sent) <= 2, kinds(sent)
    assert sent[0].startswith("INSERT INTO webhook_events"), kinds(sent)


async def test_a_recorded_event_feeds_only_the_indexes_a_query_reads(db: Database) -> None:
    # Each index is one more entry written on every delivery: the primary key finds an
    # event, received_at prunes them (webhooks.repository); none other is read.
    async with db.connection() as conn:
        indexes = await conn.fetch(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'webhook_events' ORDER BY 1"
        )
    assert [row["indexname"] for row in indexes] == [
        "webhook_events_pkey",
        "webhook_events_received_idx",
    ]
