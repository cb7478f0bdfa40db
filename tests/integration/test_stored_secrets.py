"""Nothing secret is ever stored: after a full hosted relink in the sandbox (create, the
bank's page, the return page, the ``session.updated`` webhook), every text and JSON value
of every table of ours is searched for client secrets, hosted state tokens, API keys,
webhook secrets and bearer tokens."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from relink_api.db import Database
from tests.integration.test_sandbox_flow import flush, make_demo
from tests.sandbox_server import RunningSandbox

# The sandbox's own schema plays Stripe's database, which does keep client secrets.
STRIPES_SIDE = "sandbox"
TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb", "ARRAY")
# relink-api's own signing secrets for the host application's endpoints: it must hold them
# to sign each delivery (as Stripe holds its endpoints'), and only these columns may.
SIGNING_SECRETS = {"public.webhook_endpoints.secret", "public.webhook_endpoints.previous_secret"}
PATTERNS = {
    "client secret": re.compile(r"_secret_"),
    "Stripe API key": re.compile(r"\b[sr]k_(test|live)_[A-Za-z0-9]"),
    "admin API key": re.compile(r"rk_admin_"),
    "webhook secret": re.compile(r"whsec_"),
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\."),
}


async def stored_text(db: Database) -> dict[str, list[str]]:
    """Every text, JSON and array value of every table outside Stripe's side, by
    ``schema.table.column``."""
    async with db.connection() as conn:
        columns = await conn.fetch(
            """
            SELECT c.table_schema, c.table_name, c.column_name
            FROM information_schema.columns c
            JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE t.table_type = 'BASE TABLE'
              AND c.table_schema NOT IN ('pg_catalog', 'information_schema', $1)
              AND c.data_type = ANY($2::text[])
            ORDER BY 1, 2, 3
            """,
            STRIPES_SIDE,
            list(TEXT_TYPES),
        )
        values: dict[str, list[str]] = {}
        for column in columns:
            schema, table, name = (
                column["table_schema"],
                column["table_name"],
                column["column_name"],
            )
            query = (
                f'SELECT "{name}"::text AS value FROM "{schema}"."{table}" '
                f'WHERE "{name}" IS NOT NULL'
            )
            values[f"{schema}.{table}.{name}"] = [row["value"] for row in await conn.fetch(query)]
    return values


async def hosted_relink(sandbox: RunningSandbox) -> dict[str, Any]:
    """A hosted relink start to finish; what the test needs to know of it."""
    demo = await make_demo(sandbox)
    account_id = demo["relink_required"]
    created = await sandbox.client.post(
        "/v1/relink-sessions",
        json={"account_id": account_id, "ui_mode": "hosted", "delivery": "url"},
        headers=demo.auth,
    )
    assert created.status_code == 201, created.text
    hosted_path = created.json()["url"][len(sandbox.base_url) :]
    linked = await sandbox.client.post(
        hosted_path, data={"outcome": "link", "account_id": account_id}, follow_redirects=False
    )
    assert linked.status_code == 303, linked.text
    back = linked.headers["location"]
    (state,) = parse_qs(urlsplit(back).query)["state"]
    returned = await sandbox.client.get(back[len(sandbox.base_url) :])
    assert returned.status_code == 200, returned.text
    await flush(sandbox)  # financial_connections.session.updated reaches the webhook
    session = await sandbox.client.get(
        f"/v1/relink-sessions/{created.json()['id']}", headers=demo.auth
    )
    assert session.json()["outcome"] == "relinked", session.text
    return {"state": state, "token": demo.token, "stripe_session": session.json()}


async def test_no_secret_is_stored_anywhere_after_a_hosted_relink(
    sandbox: RunningSandbox,
) -> None:
    relink = await hosted_relink(sandbox)
    db: Database = sandbox.app.state.database
    async with db.connection() as conn:
        events = await conn.fetch(
            "SELECT type, payload::text AS payload FROM webhook_events WHERE type = $1",
            "financial_connections.session.updated",
        )
    values = await stored_text(db)

    # The search covers what matters: the session's event is in the log, and the events
    # for the host application (the sandbox's receiver is registered) are in the outbox.
    assert events, "no session.updated event was recorded"
    assert values["public.outbound_events.payload"], "no outbound event was written"
    assert "webhook_events.payload" in {key.split(".", 1)[1] for key in values}
    assert relink["token"].startswith("eyJ")  # what the JWT pattern must catch
    patterns = {**PATTERNS, "hosted state token": re.compile(re.escape(relink["state"]))}
    found = [
        f"{what} in {column}: {value[:160]}"
        for column, column_values in values.items()
        if column not in SIGNING_SECRETS
        for value in column_values
        for what, pattern in patterns.items()
        if pattern.search(value)
    ]
    assert not found, "\n".join(found)


async def test_the_secret_patterns_find_what_they_look_for(sandbox: RunningSandbox) -> None:
    # The search above must be able to fail: plant each kind of secret and find it.
    db: Database = sandbox.app.state.database
    planted = {
        "client secret": "fcsess_1_secret_Zx81Kq0pWm",
        "Stripe API key": sandbox.secret_key,
        "admin API key": "rk_admin_0123456789abcdef",
        "webhook secret": "whsec_0123456789abcdef",
        "JWT": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjdXNfQSJ9.c2lnbmF0dXJl",
    }
    async with db.transaction() as conn:
        for what, secret in planted.items():
            await conn.execute(
                "INSERT INTO webhook_events (id, type, created, payload) "
                "VALUES ($1, 'planted', now(), $2)",
                f"evt_planted_{what.replace(' ', '_')}",
                {"note": secret},
            )
    values = await stored_text(db)
    for what, pattern in PATTERNS.items():
        assert any(pattern.search(value) for value in values["public.webhook_events.payload"]), what
