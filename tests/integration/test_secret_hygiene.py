"""After a whole relink flow the client_secret is in no log line and no database row."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx

from relink_api.db import Database
from tests.conftest import Seed
from tests.factories import fc_account, fc_session

SECRET = "fcsess_1_secret_Zx81Kq0pWm"


async def test_client_secret_is_never_logged_or_stored(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="stripe")
    caplog.set_level(logging.DEBUG, logger="httpx")
    await seed(status="inactive", action="relink_required", cause="access_expired")
    stripe_mock.post("/v1/financial_connections/sessions").respond(200, json=fc_session())
    relinked = fc_account(status="active")
    stripe_mock.get("/v1/financial_connections/sessions/fcsess_1").respond(
        200,
        json=fc_session(
            status="succeeded",
            accounts=[relinked],
            relink_result={
                "account": "fca_checking",
                "authorization": "fcauth_1",
                "failure_reason": None,
            },
        ),
    )

    created = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_checking"}, headers=auth_a
    )
    assert created.json()["client_secret"] == SECRET
    session_id = created.json()["id"]
    # The page posts back what Stripe.js returned, secret included.
    completed = await client.post(
        f"/v1/relink-sessions/{session_id}/complete",
        json={"financialConnectionsSession": {"id": "fcsess_1", "client_secret": SECRET}},
        headers=auth_a,
    )
    assert completed.json()["outcome"] == "relinked"
    fetched = await client.get(f"/v1/relink-sessions/{session_id}", headers=auth_a)

    assert SECRET not in fetched.text
    assert SECRET not in completed.text
    assert caplog.records, "logging was captured"
    assert "Request to Stripe api" in caplog.text
    assert "_secret_" not in caplog.text.replace("_secret_[redacted]", "")
    assert SECRET not in caplog.text
    async with db.connection() as conn:
        tables = [
            row["tablename"]
            for row in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        ]
        for table in tables:
            dump = await conn.fetchval(
                f"SELECT coalesce(string_agg(t::text, '\n'), '') FROM \"{table}\" t"
            )
            assert SECRET not in dump, table
            assert "Zx81Kq0pWm" not in dump, table
        assert "relink_sessions" in tables
        assert await conn.fetchval("SELECT count(*) FROM relink_sessions") == 1
