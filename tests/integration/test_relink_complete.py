"""POST /v1/relink-sessions/{id}/complete: the outcome comes from Stripe, never the client."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from relink_api.db import Database
from relink_api.settings import DEFAULT_STRIPE_API_VERSION
from tests.conftest import Seed
from tests.factories import fc_account, fc_session
from tests.stripe_events import deliver, event

SESSIONS = "/v1/financial_connections/sessions"
SESSION_1 = f"{SESSIONS}/fcsess_1"
ACCOUNTS = "/v1/financial_connections/accounts"

HistoryRow = tuple[str, str | None, str, str, str, str | None]


def relink_result(
    *,
    account: str | None = None,
    authorization: str | None = None,
    failure_reason: str | None = None,
) -> dict[str, Any]:
    return {"account": account, "authorization": authorization, "failure_reason": failure_reason}


async def start_session(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    auth: dict[str, str],
    *,
    scope: str = "account",
) -> str:
    """Create a relink session for fca_checking through the API; returns our session id."""
    account = "fca_checking" if scope == "account" else None
    stripe_mock.post(SESSIONS).respond(200, json=fc_session(account=account))
    response = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_checking", "scope": scope}, headers=auth
    )
    assert response.status_code == 201, response.text
    session_id: str = response.json()["id"]
    return session_id


async def seed_broken_pair(seed: Seed) -> None:
    """Two inactive accounts on one authorization, fcauth_1."""
    await seed("fca_checking", status="inactive", action="relink_required", cause="access_expired")
    await seed(
        "fca_savings",
        status="inactive",
        action="relink_required",
        cause="access_expired",
        subcategory="savings",
        display_name="Savings",
        last4="1111",
    )


async def relink_history(db: Database) -> list[HistoryRow]:
    async with db.connection() as conn:
        records = await conn.fetch(
            """
            SELECT account_id, from_status, to_status, to_health, source, relink_session_id
            FROM account_status_history WHERE source = 'relink' ORDER BY account_id, id
            """
        )
    return [
        (
            record["account_id"],
            record["from_status"],
            record["to_status"],
            record["to_health"],
            record["source"],
            record["relink_session_id"],
        )
        for record in records
    ]


async def history_count(db: Database) -> int:
    async with db.connection() as conn:
        count: int = await conn.fetchval("SELECT count(*) FROM account_status_history")
    return count


async def get_account(
    client: httpx.AsyncClient, account_id: str, auth: dict[str, str]
) -> dict[str, Any]:
    response = await client.get(f"/v1/accounts/{account_id}", headers=auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def mock_account_scope_success(stripe_mock: respx.MockRouter) -> tuple[respx.Route, respx.Route]:
    """Stripe: fca_checking relinked; re-reading fca_savings shows it active again."""
    retrieve = stripe_mock.get(SESSION_1).respond(
        200,
        json=fc_session(
            status="succeeded",
            accounts=[fc_account("fca_checking")],
            relink_result=relink_result(
                account="fca_checking", authorization="fcauth_1", failure_reason=None
            ),
        ),
    )
    sibling = stripe_mock.get(f"{ACCOUNTS}/fca_savings").respond(
        200,
        json=fc_account("fca_savings", subcategory="savings", display_name="Savings", last4="1111"),
    )
    return retrieve, sibling


async def test_account_scope_relink_reactivates_the_account_and_its_sibling(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed_broken_pair(seed)
    session_id = await start_session(client, stripe_mock, auth_a)
    retrieve, sibling = mock_account_scope_success(stripe_mock)

    response = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == session_id
    assert body["status"] == "completed"
    assert body["outcome"] == "relinked"
    assert body["failure_reason"] is None
    assert body["next_step"] == "none"
    assert body["linked_account_ids"] == ["fca_checking"]
    assert body["reactivated_account_ids"] == ["fca_checking", "fca_savings"]
    assert body["completed_at"] is not None
    assert retrieve.call_count == 1
    assert retrieve.calls.last.request.headers["stripe-version"] == DEFAULT_STRIPE_API_VERSION
    assert retrieve.calls.last.request.headers["authorization"] == "Bearer sk_test_relink123"
    assert sibling.call_count == 1
    for account_id in ("fca_checking", "fca_savings"):
        account = await get_account(client, account_id, auth_a)
        assert account["status"] == "active"
        assert account["link_health"] == "ok"
        assert account["inactive_since"] is None
        assert account["needs_new_payment_method"] is False
    assert await relink_history(db) == [
        ("fca_checking", "inactive", "active", "ok", "relink", session_id),
        ("fca_savings", "inactive", "active", "ok", "relink", session_id),
    ]
    async with db.connection() as conn:
        stored = await conn.fetchrow(
            "SELECT status, outcome, stripe_status FROM relink_sessions WHERE id = $1", session_id
        )
    assert stored is not None
    assert dict(stored) == {
        "status": "completed",
        "outcome": "relinked",
        "stripe_status": "succeeded",
    }


async def test_institution_scope_choosing_a_known_sibling_is_relinked(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed_broken_pair(seed)
    session_id = await start_session(client, stripe_mock, auth_a, scope="institution")
    retrieve = stripe_mock.get(SESSION_1).respond(
        200,
        json=fc_session(
            status="succeeded",
            account=None,
            accounts=[
                fc_account(
                    "fca_savings", subcategory="savings", display_name="Savings", last4="1111"
                )
            ],
            relink_result=relink_result(authorization="fcauth_1"),
        ),
    )
    sibling = stripe_mock.get(f"{ACCOUNTS}/fca_checking").respond(
        200, json=fc_account("fca_checking")
    )

    response = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "institution"
    assert body["outcome"] == "relinked"
    assert body["failure_reason"] is None
    assert body["next_step"] == "none"
    assert body["linked_account_ids"] == ["fca_savings"]
    assert body["reactivated_account_ids"] == ["fca_checking", "fca_savings"]
    assert retrieve.call_count == 1
    assert sibling.call_count == 1
    savings = await get_account(client, "fca_savings", auth_a)
    assert savings["link_health"] == "ok"
    assert savings["needs_new_payment_method"] is False
    assert savings["replaces_account_id"] is None
    assert (await get_account(client, "fca_checking", auth_a))["link_health"] == "ok"
    assert [row[0] for row in await relink_history(db)] == ["fca_checking", "fca_savings"]


async def test_institution_scope_choosing_an_unknown_account_is_a_new_account(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    auth_b: dict[str, str],
    db: Database,
) -> None:
    await seed("fca_checking", status="inactive", action="relink_required", cause="account_closed")
    session_id = await start_session(client, stripe_mock, auth_a, scope="institution")
    stripe_mock.get(SESSION_1).respond(
        200,
        json=fc_session(
            status="succeeded",
            account=None,
            accounts=[fc_account("fca_new", display_name="Premier Checking", last4="4321")],
            relink_result=relink_result(authorization="fcauth_1"),
        ),
    )
    old = stripe_mock.get(f"{ACCOUNTS}/fca_checking").respond(
        200,
        json=fc_account(
            "fca_checking", status="inactive", action="relink_required", cause="account_closed"
        ),
    )

    response = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["outcome"] == "new_account"
    assert body["failure_reason"] is None
    assert body["next_step"] == "set_up_payment_method"
    assert body["linked_account_ids"] == ["fca_new"]
    assert body["reactivated_account_ids"] == []
    assert old.call_count == 1
    new = await get_account(client, "fca_new", auth_a)
    assert new["status"] == "active"
    assert new["link_health"] == "ok"
    assert new["last4"] == "4321"
    assert new["needs_new_payment_method"] is True
    assert new["replaces_account_id"] == "fca_checking"
    checking = await get_account(client, "fca_checking", auth_a)
    assert checking["status"] == "inactive"
    assert checking["link_health"] == "relink_required"
    assert checking["needs_new_payment_method"] is False
    assert (await client.get("/v1/accounts/fca_new", headers=auth_b)).status_code == 404
    assert await relink_history(db) == [
        ("fca_new", None, "active", "ok", "relink", session_id),
    ]


async def test_stripes_failure_wins_over_the_clients_claim_of_success(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed_broken_pair(seed)
    session_id = await start_session(client, stripe_mock, auth_a)
    retrieve = stripe_mock.get(SESSION_1).respond(
        200,
        json=fc_session(
            status="failed",
            accounts=[],
            relink_result=relink_result(failure_reason="no_account"),
        ),
    )
    reads = stripe_mock.get(path__startswith=f"{ACCOUNTS}/").respond(
        200, json=fc_account("fca_checking")
    )
    history_before = await history_count(db)

    response = await client.post(
        f"/v1/relink-sessions/{session_id}/complete",
        json={
            "financialConnectionsSession": {
                "id": "fcsess_1",
                "relink_result": {"failure_reason": None},
                "accounts": [{"id": "fca_checking"}],
            }
        },
        headers=auth_a,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed"
    assert body["outcome"] == "failed"
    assert body["failure_reason"] == "no_account"
    assert body["next_step"] == "relink_institution"
    assert body["linked_account_ids"] == []
    assert body["reactivated_account_ids"] == []
    assert retrieve.call_count == 1
    assert not reads.called
    async with db.connection() as conn:
        stored = await conn.fetchrow(
            "SELECT outcome, failure_reason, next_step FROM relink_sessions WHERE id = $1",
            session_id,
        )
    assert stored is not None
    assert dict(stored) == {
        "outcome": "failed",
        "failure_reason": "no_account",
        "next_step": "relink_institution",
    }
    checking = await get_account(client, "fca_checking", auth_a)
    assert checking["status"] == "inactive"
    assert checking["link_health"] == "relink_required"
    assert await history_count(db) == history_before


@pytest.mark.parametrize(
    ("stripe_status", "stripe_reason", "outcome", "failure_reason", "next_step"),
    [
        ("failed", "no_authorization", "failed", "no_authorization", "retry"),
        ("failed", "other", "failed", "other", "retry"),
        ("cancelled", None, "cancelled", None, "retry"),
    ],
)
async def test_unsuccessful_sessions_record_stripes_verdict(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    stripe_status: str,
    stripe_reason: str | None,
    outcome: str,
    failure_reason: str | None,
    next_step: str,
) -> None:
    await seed("fca_checking", status="inactive", action="relink_required")
    session_id = await start_session(client, stripe_mock, auth_a)
    result = relink_result(failure_reason=stripe_reason) if stripe_reason else None
    stripe_mock.get(SESSION_1).respond(
        200, json=fc_session(status=stripe_status, relink_result=result)
    )
    reads = stripe_mock.get(path__startswith=f"{ACCOUNTS}/").respond(
        200, json=fc_account("fca_checking")
    )

    response = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed"
    assert body["outcome"] == outcome
    assert body["failure_reason"] == failure_reason
    assert body["next_step"] == next_step
    assert body["linked_account_ids"] == []
    assert body["reactivated_account_ids"] == []
    assert not reads.called
    assert (await get_account(client, "fca_checking", auth_a))["link_health"] == "relink_required"
    assert await relink_history(db) == []


async def test_pending_session_is_409_and_stays_open(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed("fca_checking", status="inactive", action="relink_required")
    session_id = await start_session(client, stripe_mock, auth_a)
    retrieve = stripe_mock.get(SESSION_1).respond(200, json=fc_session(status="pending"))

    response = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/relink-session-pending"
    assert retrieve.call_count == 1
    read = await client.get(f"/v1/relink-sessions/{session_id}", headers=auth_a)
    assert read.status_code == 200
    assert read.json()["status"] == "open"
    assert read.json()["outcome"] is None
    assert read.json()["completed_at"] is None
    async with db.connection() as conn:
        status = await conn.fetchval("SELECT status FROM relink_sessions WHERE id = $1", session_id)
    assert status == "open"

    # Once the customer finishes, the same session completes.
    retrieve.respond(200, json=fc_session(status="cancelled"))
    later = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)

    assert later.status_code == 200, later.text
    assert later.json()["outcome"] == "cancelled"
    assert retrieve.call_count == 2


async def test_completing_twice_returns_the_stored_outcome_without_calling_stripe(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed_broken_pair(seed)
    session_id = await start_session(client, stripe_mock, auth_a)
    retrieve, sibling = mock_account_scope_success(stripe_mock)
    first = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)
    assert first.status_code == 200, first.text
    assert first.json()["outcome"] == "relinked"
    history_after_first = await history_count(db)
    calls_after_first = (retrieve.call_count, sibling.call_count)
    total_calls_after_first = len(stripe_mock.calls)

    second = await client.post(
        f"/v1/relink-sessions/{session_id}/complete",
        json={"financialConnectionsSession": {"id": "fcsess_1", "accounts": []}},
        headers=auth_a,
    )

    assert second.status_code == 200, second.text
    assert second.json() == first.json()
    assert (retrieve.call_count, sibling.call_count) == calls_after_first == (1, 1)
    assert len(stripe_mock.calls) == total_calls_after_first
    assert await history_count(db) == history_after_first


async def test_another_customers_session_is_404_and_stripe_is_not_called(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    auth_b: dict[str, str],
    db: Database,
) -> None:
    await seed_broken_pair(seed)
    session_id = await start_session(client, stripe_mock, auth_a)
    retrieve, sibling = mock_account_scope_success(stripe_mock)

    read = await client.get(f"/v1/relink-sessions/{session_id}", headers=auth_b)
    complete = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_b)

    for response in (read, complete):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "/problems/not-found"
    assert not retrieve.called
    assert not sibling.called
    own = await client.get(f"/v1/relink-sessions/{session_id}", headers=auth_a)
    assert own.status_code == 200
    assert own.json()["status"] == "open"
    assert (await get_account(client, "fca_checking", auth_a))["link_health"] == "relink_required"
    assert await relink_history(db) == []


async def test_get_shows_the_session_open_before_and_its_outcome_after(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    await seed("fca_checking", status="inactive", action="relink_required")
    session_id = await start_session(client, stripe_mock, auth_a)
    stripe_mock.get(SESSION_1).respond(
        200,
        json=fc_session(
            status="failed", relink_result=relink_result(failure_reason="no_authorization")
        ),
    )

    before = await client.get(f"/v1/relink-sessions/{session_id}", headers=auth_a)

    assert before.status_code == 200, before.text
    opened = before.json()
    assert opened["id"] == session_id
    assert opened["stripe_session_id"] == "fcsess_1"
    assert opened["account_id"] == "fca_checking"
    assert opened["authorization_id"] == "fcauth_1"
    assert opened["status"] == "open"
    assert opened["outcome"] is None
    assert opened["failure_reason"] is None
    assert opened["next_step"] is None
    assert opened["completed_at"] is None
    assert "client_secret" not in opened

    completed = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)
    after = await client.get(f"/v1/relink-sessions/{session_id}", headers=auth_a)

    assert completed.status_code == 200, completed.text
    assert after.status_code == 200, after.text
    assert after.json() == completed.json()
    assert after.json()["status"] == "completed"
    assert after.json()["outcome"] == "failed"
    assert after.json()["failure_reason"] == "no_authorization"
    assert after.json()["next_step"] == "retry"
    assert after.json()["completed_at"] is not None
    assert after.json()["created_at"] == opened["created_at"]


async def test_a_sibling_stripe_no_longer_knows_does_not_block_the_outcome(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    await seed_broken_pair(seed)
    session_id = await start_session(client, stripe_mock, auth_a)
    _, sibling = mock_account_scope_success(stripe_mock)
    sibling.respond(
        404,
        json={
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "param": "account",
                "message": "No such financial_connections.account: 'fca_savings'",
            }
        },
    )

    response = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)

    assert response.status_code == 200, response.text
    assert sibling.called
    assert response.json()["outcome"] == "relinked"
    assert response.json()["reactivated_account_ids"] == ["fca_checking"]
    assert (await get_account(client, "fca_savings", auth_a))["link_health"] == "relink_required"


# --- webhooks that arrive before the page completes the session ---------------------------


async def test_accounts_reactivated_by_webhook_before_completion_are_still_listed(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    await seed_broken_pair(seed)
    session_id = await start_session(client, stripe_mock, auth_a)
    mock_account_scope_success(stripe_mock)
    # Stripe's `reactivated` webhooks win the race against the page's call.
    for account_id, subcategory in (("fca_checking", "checking"), ("fca_savings", "savings")):
        document = event(
            "financial_connections.account.reactivated",
            fc_account(account_id, subcategory=subcategory),
        )
        assert (await deliver(client, document)).json()["result"] == "applied"
    assert (await get_account(client, "fca_savings", auth_a))["link_health"] == "ok"

    response = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)

    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "relinked"
    assert response.json()["reactivated_account_ids"] == ["fca_checking", "fca_savings"]


async def new_account_relink(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """An institution relink of the broken fca_checking in which Stripe reports that the
    customer linked a new account, fca_new, instead: the session's id and fca_new."""
    await seed("fca_checking", status="inactive", action="relink_required", cause="access_expired")
    session_id = await start_session(client, stripe_mock, auth_a, scope="institution")
    linked = fc_account("fca_new", display_name="Premier Checking", last4="4321")
    stripe_mock.get(SESSION_1).respond(
        200,
        json=fc_session(
            status="succeeded",
            account=None,
            accounts=[linked],
            relink_result=relink_result(authorization="fcauth_1"),
        ),
    )
    stripe_mock.get(f"{ACCOUNTS}/fca_checking").respond(200, json=fc_account("fca_checking"))
    return session_id, linked


async def test_a_new_account_stored_by_webhook_before_completion_is_still_new(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    session_id, linked = await new_account_relink(client, stripe_mock, seed, auth_a)
    created = event("financial_connections.account.created", linked)
    assert (await deliver(client, created)).json()["result"] == "applied"
    assert (await get_account(client, "fca_new", auth_a))["needs_new_payment_method"] is False

    response = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["outcome"] == "new_account"
    assert body["next_step"] == "set_up_payment_method"
    assert body["reactivated_account_ids"] == ["fca_checking"]
    new = await get_account(client, "fca_new", auth_a)
    assert new["needs_new_payment_method"] is True
    assert new["replaces_account_id"] == "fca_checking"


async def count_account_writes(db: Database) -> None:
    """From now on, log every row written to accounts (one line per INSERT or UPDATE)."""
    async with db.connection() as conn:
        await conn.execute(
            """
            CREATE TABLE test_account_writes (account_id text NOT NULL, operation text NOT NULL);
            CREATE FUNCTION test_log_account_write() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO test_account_writes VALUES (NEW.id, TG_OP);
                RETURN NEW;
            END $$;
            CREATE TRIGGER test_account_writes AFTER INSERT OR UPDATE ON accounts
                FOR EACH ROW EXECUTE FUNCTION test_log_account_write();
            """
        )


async def account_writes(db: Database, account_id: str) -> list[str]:
    async with db.connection() as conn:
        records = await conn.fetch(
            "SELECT operation FROM test_account_writes WHERE account_id = $1", account_id
        )
    return [record["operation"] for record in records]


@pytest.mark.parametrize(("stored_by_webhook", "writes"), [(False, ["INSERT"]), (True, ["UPDATE"])])
async def test_an_account_linked_in_place_of_another_is_written_once(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    db: Database,
    seed: Seed,
    auth_a: dict[str, str],
    stored_by_webhook: bool,
    writes: list[str],
) -> None:
    # Its snapshot and its replacement marks are one write: no reader of the row can see
    # the new account without the marks that say it needs a payment method.
    session_id, linked = await new_account_relink(client, stripe_mock, seed, auth_a)
    if stored_by_webhook:
        created = event("financial_connections.account.created", linked)
        assert (await deliver(client, created)).json()["result"] == "applied"
    await count_account_writes(db)

    response = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)

    assert response.status_code == 200, response.text
    assert response.json()["next_step"] == "set_up_payment_method"
    assert await account_writes(db, "fca_new") == writes
    new = await get_account(client, "fca_new", auth_a)
    assert (new["needs_new_payment_method"], new["replaces_account_id"]) == (True, "fca_checking")
    assert new["replacement_relink_session_id"] == session_id
