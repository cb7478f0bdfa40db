"""What one POST /v1/relink-sessions costs the database, statement by statement: each is a
round trip on the path the customer waits on. Counted on the app's own pool, so a return to
a read per table, or to a transaction block for the write, fails."""

from __future__ import annotations

import asyncio

import httpx
import respx

from relink_api.db import Database
from tests.conftest import Seed
from tests.factories import fc_session
from tests.integration import counted

SESSIONS = "/v1/financial_connections/sessions"
statements = counted.statements


def kinds(sent: list[str]) -> list[str]:
    """Each statement's first words: enough to read the sequence in a failure."""
    return [" ".join(statement.split()[:4]) for statement in sent]


async def test_a_create_is_four_statements(
    statements: list[str],
    client: httpx.AsyncClient,
    db: Database,
    seed: Seed,
    stripe_mock: respx.MockRouter,
    auth_a: dict[str, str],
) -> None:
    await seed(status="inactive", action="relink_required", cause="access_expired")
    # A sibling on the same login (the break opened an episode for each).
    await seed("fca_savings", status="inactive", action="relink_required")
    stripe_mock.post(SESSIONS).respond(200, json=fc_session())
    await asyncio.sleep(0)  # query loggers run on the next loop turn
    statements.clear()

    created = await client.post(
        "/v1/relink-sessions",
        json={"account_id": "fca_checking", "scope": "institution"},
        headers=auth_a,
    )
    await asyncio.sleep(0)
    sent = list(statements)

    assert created.status_code == 201, created.text
    # The customer's rate limit, the account with its siblings, the Stripe budget, and the
    # session stored with its episode marked: no transaction block.
    assert len(sent) == 4, kinds(sent)
    assert sent[0].startswith("INSERT INTO rate_limits"), kinds(sent)
    assert "FROM accounts" in sent[1], kinds(sent)
    assert sent[2].startswith("INSERT INTO rate_limits"), kinds(sent)
    assert "relink_session_created(" in sent[3], kinds(sent)
    async with db.connection() as conn:
        row = await conn.fetchrow(
            "SELECT s.accounts_at_start, b.relink_started_at = s.created_at AS marked "
            "FROM relink_sessions s JOIN link_breaks b ON b.account_id = s.account_id"
        )
    assert row is not None
    assert row["marked"] is True
    assert set(row["accounts_at_start"]) == {"fca_checking", "fca_savings"}
