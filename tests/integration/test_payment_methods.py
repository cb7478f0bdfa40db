"""New account → ACH payment method: the SetupIntent, its outcome and the list."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from relink_api.db import Database
from tests.conftest import Seed
from tests.factories import (
    fc_account,
    fc_session,
    payment_method,
    payment_method_list,
    setup_intent,
    stripe_error,
)
from tests.integration.test_relink_complete import (
    ACCOUNTS,
    SESSION_1,
    relink_result,
    seed_broken_pair,
    start_session,
)
from tests.stripe_events import deliver, event
from tests.support import assert_problem

SETUP_INTENTS = "/v1/setup_intents"
SETI_1 = f"{SETUP_INTENTS}/seti_1"
PAYMENT_METHODS = "/v1/payment_methods"


async def institution_relink_linking(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    auth: dict[str, str],
    linked: list[dict[str, Any]],
    *,
    old: dict[str, Any],
) -> dict[str, Any]:
    """Start an institution-scope relink of fca_checking (seeded already), have Stripe report
    ``linked`` and the old account as ``old``, complete it; the completed session."""
    session_id = await start_session(client, stripe_mock, auth, scope="institution")
    stripe_mock.get(SESSION_1).respond(
        200,
        json=fc_session(
            status="succeeded",
            account=None,
            accounts=linked,
            relink_result=relink_result(authorization="fcauth_1"),
        ),
    )
    stripe_mock.get(f"{ACCOUNTS}/fca_checking").respond(200, json=old)
    response = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth)
    assert response.status_code == 200, response.text
    completed: dict[str, Any] = response.json()
    return completed


async def new_account_session(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth: dict[str, str]
) -> str:
    """An institution-scope relink of fca_checking in which the customer linked fca_new."""
    await seed("fca_checking", status="inactive", action="relink_required", cause="access_expired")
    completed = await institution_relink_linking(
        client,
        stripe_mock,
        auth,
        [fc_account("fca_new", display_name="Premier Checking", last4="4321")],
        old=fc_account("fca_checking", status="inactive", action="relink_required"),
    )
    assert completed["outcome"] == "new_account", completed
    session_id: str = completed["id"]
    return session_id


def mock_existing_methods(stripe_mock: respx.MockRouter) -> respx.Route:
    """The customer's payment methods: two from the old account, one from another."""
    return stripe_mock.get(PAYMENT_METHODS).respond(
        200,
        json=payment_method_list(
            [
                payment_method("pm_old_newest", account="fca_checking", created=1_700_000_500),
                payment_method("pm_other", account="fca_savings", created=1_700_000_900),
                payment_method("pm_old_oldest", account="fca_checking", created=1_700_000_100),
            ]
        ),
    )


async def start(
    client: httpx.AsyncClient, session_id: str, auth: dict[str, str], **body: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/relink-sessions/{session_id}/payment-method",
        json={"billing_name": "Jenny Rosen", **body},
        headers=auth,
    )


async def started_setup(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth: dict[str, str]
) -> str:
    """A new-account relink whose SetupIntent (seti_1) has been created; the session id."""
    session_id = await new_account_session(client, stripe_mock, seed, auth)
    mock_existing_methods(stripe_mock)
    stripe_mock.post(SETUP_INTENTS).respond(200, json=setup_intent())
    response = await start(client, session_id, auth)
    assert response.status_code == 201, response.text
    return session_id


async def stored_rows(db: Database) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with db.connection() as conn:
        setups = await conn.fetch(
            "SELECT id, status, stripe_status, payment_method_id, failure_code, "
            "replaces_payment_method_id FROM setup_intents ORDER BY id"
        )
        methods = await conn.fetch(
            "SELECT id, account_id, setup_intent_id, replaces_payment_method_id, last4, "
            "blocked_reason FROM payment_methods ORDER BY id"
        )
    return [dict(row) for row in setups], [dict(row) for row in methods]


async def test_creates_the_setup_intent_stripe_prescribes(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    session_id = await new_account_session(client, stripe_mock, seed, auth_a)
    listed = mock_existing_methods(stripe_mock)
    created = stripe_mock.post(SETUP_INTENTS).respond(200, json=setup_intent())

    response = await start(client, session_id, auth_a)

    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["setup_intent_id"] == "seti_1"
    assert body["client_secret"] == "seti_1_secret_Qm7Zp2Lx"
    assert body["account_id"] == "fca_new"
    assert body["replaces_payment_method_id"] == "pm_old_newest"
    assert body["status"] == "pending"
    assert body["publishable_key"] == "pk_test_relink123"
    assert "authorize Example Shop to debit" in body["mandate_text"]
    sent = dict(parse_qsl(created.calls.last.request.content.decode()))
    assert sent == {
        "customer": "cus_A",
        "allowed_payment_method_types[0]": "us_bank_account",
        "payment_method_data[type]": "us_bank_account",
        "payment_method_data[us_bank_account][financial_connections_account]": "fca_new",
        "payment_method_data[billing_details][name]": "Jenny Rosen",
        "usage": "off_session",
        "metadata[relink_session]": session_id,
        "metadata[replaces_account]": "fca_checking",
        "metadata[replaces_payment_method]": "pm_old_newest",
    }
    assert "payment_method_types[0]" not in sent  # removed by the pinned preview API
    assert created.calls.last.request.headers["Idempotency-Key"].startswith(
        f"relink-setup-{session_id}-"
    )
    assert dict(parse_qsl(listed.calls.last.request.url.query.decode())) == {
        "customer": "cus_A",
        "type": "us_bank_account",
        "limit": "100",
    }
    async with db.connection() as conn:
        dump = await conn.fetchval(
            "SELECT string_agg(row_to_json(s)::text, '') FROM setup_intents s"
        )
    assert "_secret_" not in dump


async def holderless_new_account_session(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth: dict[str, str]
) -> str:
    """As ``new_account_session``, for accounts without an account holder (no customer)."""
    await seed(
        "fca_checking",
        customer=None,
        owner="cus_A",
        status="inactive",
        action="relink_required",
    )
    session_id = await start_session(client, stripe_mock, auth, scope="institution")
    stripe_mock.get(SESSION_1).respond(
        200,
        json=fc_session(
            status="succeeded",
            customer=None,
            account=None,
            accounts=[fc_account("fca_new", customer=None)],
            relink_result=relink_result(authorization="fcauth_1"),
        ),
    )
    stripe_mock.get(f"{ACCOUNTS}/fca_checking").respond(
        200, json=fc_account("fca_checking", customer=None, status="inactive")
    )
    response = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth)
    assert response.json()["outcome"] == "new_account", response.text
    return session_id


async def test_a_holderless_account_gets_no_customer_and_replaces_from_our_records(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    session_id = await holderless_new_account_session(client, stripe_mock, seed, auth_a)
    listed = stripe_mock.get(PAYMENT_METHODS).respond(200, json=payment_method_list([]))
    created = stripe_mock.post(SETUP_INTENTS).respond(200, json=setup_intent(customer=None))

    response = await start(client, session_id, auth_a)

    assert response.status_code == 201, response.text
    assert response.json()["replaces_payment_method_id"] is None
    sent = dict(parse_qsl(created.calls.last.request.content.decode()))
    assert "customer" not in sent
    assert not listed.called


@pytest.mark.parametrize(
    ("outcome_session", "status", "slug"),
    [
        (
            fc_session(
                status="succeeded",
                accounts=[fc_account("fca_checking")],
                relink_result=relink_result(account="fca_checking", authorization="fcauth_1"),
            ),
            409,
            "payment-method-not-needed",
        ),
        (
            fc_session(
                status="failed",
                relink_result=relink_result(failure_reason="no_authorization"),
            ),
            409,
            "payment-method-not-needed",
        ),
    ],
    ids=["relinked", "failed"],
)
async def test_only_a_replacement_needs_a_payment_method(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    outcome_session: dict[str, Any],
    status: int,
    slug: str,
) -> None:
    await seed("fca_checking", status="inactive", action="relink_required")
    session_id = await start_session(client, stripe_mock, auth_a)
    stripe_mock.get(SESSION_1).respond(200, json=outcome_session)
    await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)
    created = stripe_mock.post(SETUP_INTENTS).respond(200, json=setup_intent())

    response = await start(client, session_id, auth_a)

    assert_problem(response, status, slug)
    assert not created.called


async def test_an_open_session_must_be_completed_first(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed("fca_checking", status="inactive", action="relink_required")
    session_id = await start_session(client, stripe_mock, auth_a, scope="institution")

    assert_problem(await start(client, session_id, auth_a), 409, "relink-session-pending")


async def test_another_customers_session_is_not_found(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    auth_b: dict[str, str],
) -> None:
    session_id = await new_account_session(client, stripe_mock, seed, auth_a)

    assert_problem(await start(client, session_id, auth_b), 404, "not-found")
    assert_problem(
        await client.post(
            f"/v1/relink-sessions/{session_id}/payment-method/complete", headers=auth_b
        ),
        404,
        "not-found",
    )


@pytest.mark.parametrize(
    "body",
    [{"billing_name": ""}, {"billing_name": "   "}, {}, {"billing_name": "J", "extra": 1}],
    ids=["empty", "blank", "missing", "unknown-field"],
)
async def test_bad_bodies_are_422(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    body: dict[str, Any],
) -> None:
    session_id = await new_account_session(client, stripe_mock, seed, auth_a)
    response = await client.post(
        f"/v1/relink-sessions/{session_id}/payment-method", json=body, headers=auth_a
    )
    assert_problem(response, 422, "validation-failed")


async def test_an_account_the_relink_did_not_link_is_refused(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    session_id = await new_account_session(client, stripe_mock, seed, auth_a)
    assert_problem(
        await start(client, session_id, auth_a, account_id="fca_checking"),
        422,
        "validation-failed",
    )


async def test_asking_again_hands_back_the_waiting_setup_intent(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    session_id = await new_account_session(client, stripe_mock, seed, auth_a)
    mock_existing_methods(stripe_mock)
    created = stripe_mock.post(SETUP_INTENTS).respond(200, json=setup_intent())
    read = stripe_mock.get(SETI_1).respond(200, json=setup_intent())
    first = await start(client, session_id, auth_a)

    second = await start(client, session_id, auth_a)

    assert second.status_code == 201, second.text
    assert second.json() == first.json()
    assert created.call_count == 1
    assert read.call_count == 1
    assert read.calls.last.request.url.params.get_list("expand[0]") == ["payment_method"]


async def test_completion_records_the_payment_method_from_stripes_copy(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    session_id = await started_setup(client, stripe_mock, seed, auth_a)
    stripe_mock.get(SETI_1).respond(
        200, json=setup_intent(status="succeeded", method=payment_method())
    )
    assert (await client.get("/v1/accounts/fca_new", headers=auth_a)).json()[
        "needs_new_payment_method"
    ]

    response = await client.post(
        f"/v1/relink-sessions/{session_id}/payment-method/complete",
        json={"setupIntent": {"status": "succeeded", "payment_method": "pm_forged"}},
        headers=auth_a,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["failure"] is None
    method = body["payment_method"]
    assert method["id"] == "pm_new"
    assert method["account_id"] == "fca_new"
    assert method["replaces_payment_method_id"] == "pm_old_newest"
    assert method["usable"] is True
    assert method["last4"] == "4321"
    listed = (await client.get("/v1/payment-methods", headers=auth_a)).json()
    assert [item["id"] for item in listed["data"]] == ["pm_new"]
    assert listed["has_more"] is False
    account = (await client.get("/v1/accounts/fca_new", headers=auth_a)).json()
    assert account["needs_new_payment_method"] is False
    again = await client.get(f"/v1/relink-sessions/{session_id}/payment-method", headers=auth_a)
    assert again.json() == body
    assert_problem(await start(client, session_id, auth_a), 409, "payment-method-already-set-up")


@pytest.mark.parametrize("first", ["webhook", "read"])
async def test_webhook_and_read_agree_whichever_comes_first(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    first: str,
) -> None:
    session_id = await started_setup(client, stripe_mock, seed, auth_a)
    succeeded = setup_intent(status="succeeded", method=payment_method())
    stripe_mock.get(SETI_1).respond(200, json=succeeded)
    # The payload carries the payment method's id only, as Stripe's events do.
    webhook = event("setup_intent.succeeded", setup_intent(status="succeeded"))

    async def by_webhook() -> None:
        response = await deliver(client, webhook)
        assert response.json()["result"] == "applied", response.text

    async def by_read() -> None:
        response = await client.post(
            f"/v1/relink-sessions/{session_id}/payment-method/complete", headers=auth_a
        )
        assert response.status_code == 200, response.text

    steps = [by_webhook, by_read] if first == "webhook" else [by_read, by_webhook]
    await steps[0]()
    after_first = await stored_rows(db)
    await steps[1]()

    assert await stored_rows(db) == after_first
    setups, methods = after_first
    assert setups == [
        {
            "id": "seti_1",
            "status": "succeeded",
            "stripe_status": "succeeded",
            "payment_method_id": "pm_new",
            "failure_code": None,
            "replaces_payment_method_id": "pm_old_newest",
        }
    ]
    assert methods == [
        {
            "id": "pm_new",
            "account_id": "fca_new",
            "setup_intent_id": "seti_1",
            "replaces_payment_method_id": "pm_old_newest",
            "last4": "4321",
            "blocked_reason": None,
        }
    ]
    async with db.connection() as conn:
        payload = await conn.fetchval(
            "SELECT payload::text FROM webhook_events WHERE id = $1", webhook["id"]
        )
    assert "_secret_" not in payload
    assert "client_secret" not in json.loads(payload)["data"]["object"]


async def test_a_late_failure_event_never_undoes_success(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    session_id = await started_setup(client, stripe_mock, seed, auth_a)
    read = stripe_mock.get(SETI_1)
    read.respond(200, json=setup_intent(status="succeeded", method=payment_method()))
    await client.post(f"/v1/relink-sessions/{session_id}/payment-method/complete", headers=auth_a)
    # Stripe's copy is gone (a deleted test object): the stale payload is all there is. A
    # failed attempt leaves the SetupIntent without a payment method.
    read.respond(404, json=stripe_error(code="resource_missing"))

    stale = event(
        "setup_intent.setup_failed",
        setup_intent(
            status="requires_payment_method", method=None, error_code="bank_account_unusable"
        ),
    )
    response = await deliver(client, stale)

    assert response.json()["result"] == "applied"
    setups, methods = await stored_rows(db)
    assert setups[0]["status"] == "succeeded"
    assert setups[0]["payment_method_id"] == "pm_new"
    assert [method["id"] for method in methods] == ["pm_new"]


async def test_a_failed_setup_is_recorded_and_a_new_one_can_start(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    session_id = await new_account_session(client, stripe_mock, seed, auth_a)
    mock_existing_methods(stripe_mock)
    created = stripe_mock.post(SETUP_INTENTS)
    created.respond(200, json=setup_intent())
    await start(client, session_id, auth_a)
    failed = setup_intent(status="requires_payment_method", error_code="bank_account_unusable")
    stripe_mock.get(SETI_1).respond(200, json=failed)

    response = await deliver(client, event("setup_intent.setup_failed", failed))
    assert response.json()["result"] == "applied"

    state = (
        await client.get(f"/v1/relink-sessions/{session_id}/payment-method", headers=auth_a)
    ).json()
    assert state["status"] == "failed"
    assert state["failure"] == {"code": "bank_account_unusable", "message": "The bank said no."}
    assert state["payment_method"] is None
    created.respond(200, json=setup_intent("seti_2"))
    retry = await start(client, session_id, auth_a)
    assert retry.status_code == 201, retry.text
    assert retry.json()["setup_intent_id"] == "seti_2"
    assert created.call_count == 2
    now = (
        await client.get(f"/v1/relink-sessions/{session_id}/payment-method", headers=auth_a)
    ).json()
    assert now["setup_intent_id"] == "seti_2"
    assert now["status"] == "pending"


async def test_setup_intents_relink_api_did_not_make_are_ignored(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, db: Database
) -> None:
    read = stripe_mock.get(f"{SETUP_INTENTS}/seti_elsewhere").respond(200, json={})
    response = await deliver(
        client, event("setup_intent.succeeded", setup_intent("seti_elsewhere", status="succeeded"))
    )
    assert response.json()["result"] == "ignored"
    assert not read.called


async def test_stripe_blocked_payment_methods_are_not_usable(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    auth_b: dict[str, str],
) -> None:
    session_id = await started_setup(client, stripe_mock, seed, auth_a)
    blocked = payment_method(blocked_reason="tokenized_account_number_deactivated")
    stripe_mock.get(SETI_1).respond(200, json=setup_intent(status="succeeded", method=blocked))

    response = await client.post(
        f"/v1/relink-sessions/{session_id}/payment-method/complete", headers=auth_a
    )

    method = response.json()["payment_method"]
    assert (method["usable"], method["unusable_reason"]) == (False, "blocked")
    assert method["blocked"] == {
        "reason": "tokenized_account_number_deactivated",
        "network_code": None,
    }
    assert (await client.get("/v1/payment-methods", headers=auth_b)).json()["data"] == []


async def test_payment_method_list_pages(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    session_id = await new_account_session(client, stripe_mock, seed, auth_a)
    # Made in an order other than their ids', which is the order they are listed in.
    made = ["pm_e", "pm_b", "pm_g", "pm_a", "pm_f", "pm_c", "pm_d"]
    await store_earlier_payment_methods(
        db, session_id=session_id, account_id="fca_checking", oldest_first=made
    )

    # Three pages (3 + 3 + 1), and one page holding exactly all of them.
    for limit, sizes in ((3, [3, 3, 1]), (7, [7])):
        pages = []
        query = f"/v1/payment-methods?limit={limit}"
        while True:
            response = await client.get(query, headers=auth_a)
            assert response.status_code == 200, response.text
            page = response.json()
            pages.append(page)
            if not page["has_more"]:
                break
            assert len(pages) < 10, "the cursor never reached the end"
            query = f"/v1/payment-methods?limit={limit}&cursor={page['next_cursor']}"

        walked = [method["id"] for page in pages for method in page["data"]]
        assert walked == sorted(made), limit
        assert [len(page["data"]) for page in pages] == sizes
        assert [page["has_more"] for page in pages] == [True] * (len(sizes) - 1) + [False]
        assert all(page["next_cursor"] for page in pages[:-1])
        assert pages[-1]["next_cursor"] is None


async def test_payment_method_list_refuses_bad_paging(
    client: httpx.AsyncClient, auth_a: dict[str, str]
) -> None:
    response = await client.get("/v1/payment-methods?limit=0", headers=auth_a)
    assert_problem(response, 422, "validation-failed")
    response = await client.get("/v1/payment-methods?cursor=nonsense!", headers=auth_a)
    assert_problem(response, 400, "invalid-cursor")
    assert_problem(await client.get("/v1/payment-methods"), 401, "unauthorized")


async def stand_in_session(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth: dict[str, str]
) -> str:
    """An institution-scope relink of an unrepairable (closed) fca_checking in which the
    customer chose its known sibling fca_savings instead."""
    await seed("fca_checking", status="inactive", action="none", cause="account_closed")
    await seed("fca_savings", subcategory="savings", display_name="Savings", last4="1111")
    completed = await institution_relink_linking(
        client,
        stripe_mock,
        auth,
        [fc_account("fca_savings", subcategory="savings", last4="1111")],
        old=fc_account("fca_checking", status="inactive", action="none"),
    )
    assert completed["next_step"] == "set_up_payment_method", completed
    session_id: str = completed["id"]
    return session_id


async def two_new_accounts_session(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth: dict[str, str]
) -> str:
    """An institution-scope relink of fca_checking that linked two new accounts."""
    await seed("fca_checking", status="inactive", action="relink_required")
    completed = await institution_relink_linking(
        client,
        stripe_mock,
        auth,
        [fc_account("fca_new"), fc_account("fca_new2", last4="2222")],
        old=fc_account("fca_checking", status="inactive", action="relink_required"),
    )
    assert completed["linked_account_ids"] == ["fca_new", "fca_new2"], completed
    session_id: str = completed["id"]
    return session_id


async def store_earlier_payment_methods(
    db: Database, *, session_id: str, account_id: str, oldest_first: list[str]
) -> None:
    """Payment methods relink-api set up from ``account_id`` in earlier relinks (copies of
    ``session_id``), each an hour newer than the one before."""
    async with db.transaction() as conn:
        for hours_ago, method_id in enumerate(reversed(oldest_first), start=1):
            earlier = f"{session_id}_{method_id}"
            await conn.execute(
                """
                INSERT INTO relink_sessions
                SELECT * FROM jsonb_populate_record(NULL::relink_sessions, (
                    SELECT to_jsonb(r) || jsonb_build_object('id', $2::text,
                        'stripe_session_id', $2::text)
                    FROM relink_sessions r WHERE id = $1))
                """,
                session_id,
                earlier,
            )
            await conn.execute(
                "INSERT INTO setup_intents (id, relink_session_id, customer_id, account_id, "
                "status, stripe_status, payment_method_id) "
                "VALUES ($1, $2, 'cus_A', $3, 'succeeded', 'succeeded', $4)",
                f"seti_{method_id}",
                earlier,
                account_id,
                method_id,
            )
            await conn.execute(
                "INSERT INTO payment_methods (id, customer_id, account_id, setup_intent_id, "
                "relink_session_id, snapshot, created_at) "
                "VALUES ($1, 'cus_A', $2, $3, $4, '{}', now() - make_interval(hours => $5))",
                method_id,
                account_id,
                f"seti_{method_id}",
                earlier,
                hours_ago,
            )


async def setup_state(
    client: httpx.AsyncClient, session_id: str, auth: dict[str, str]
) -> dict[str, Any]:
    response = await client.get(f"/v1/relink-sessions/{session_id}/payment-method", headers=auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_holderless_account_replaces_the_newest_of_our_own_payment_methods(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    session_id = await holderless_new_account_session(client, stripe_mock, seed, auth_a)
    await store_earlier_payment_methods(
        db, session_id=session_id, account_id="fca_checking", oldest_first=["pm_zz", "pm_aa"]
    )
    created = stripe_mock.post(SETUP_INTENTS).respond(200, json=setup_intent(customer=None))

    response = await start(client, session_id, auth_a)

    assert response.status_code == 201, response.text
    assert response.json()["replaces_payment_method_id"] == "pm_aa"
    sent = dict(parse_qsl(created.calls.last.request.content.decode()))
    assert sent["metadata[replaces_payment_method]"] == "pm_aa"


async def test_nothing_made_from_the_old_account_means_nothing_is_replaced(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    session_id = await new_account_session(client, stripe_mock, seed, auth_a)
    stripe_mock.get(PAYMENT_METHODS).respond(
        200, json=payment_method_list([payment_method("pm_other", account="fca_savings")])
    )
    created = stripe_mock.post(SETUP_INTENTS).respond(200, json=setup_intent())

    response = await start(client, session_id, auth_a)

    assert response.status_code == 201, response.text
    assert response.json()["replaces_payment_method_id"] is None
    sent = dict(parse_qsl(created.calls.last.request.content.decode()))
    assert "metadata[replaces_payment_method]" not in sent


async def test_the_replaced_payment_method_is_found_on_every_page_of_stripes_list(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    session_id = await new_account_session(client, stripe_mock, seed, auth_a)
    first_page = [
        payment_method("pm_old_newest", account="fca_checking", created=1_700_000_900),
        payment_method("pm_page_one_last", account="fca_savings", created=1_700_000_800),
    ]
    second_page = [payment_method("pm_old_older", account="fca_checking", created=1_700_000_100)]
    listed = stripe_mock.get(PAYMENT_METHODS).mock(
        side_effect=[
            httpx.Response(200, json=payment_method_list(first_page, has_more=True)),
            httpx.Response(200, json=payment_method_list(second_page)),
        ]
    )
    stripe_mock.post(SETUP_INTENTS).respond(200, json=setup_intent())

    response = await start(client, session_id, auth_a)

    assert response.status_code == 201, response.text
    assert response.json()["replaces_payment_method_id"] == "pm_old_newest"
    assert listed.call_count == 2
    first, second = (dict(parse_qsl(call.request.url.query.decode())) for call in listed.calls)
    assert "starting_after" not in first
    assert second["starting_after"] == "pm_page_one_last"


async def test_an_account_standing_in_for_an_unrepairable_one_gets_a_payment_method(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    session_id = await stand_in_session(client, stripe_mock, seed, auth_a)
    mock_existing_methods(stripe_mock)
    created = stripe_mock.post(SETUP_INTENTS).respond(200, json=setup_intent())

    response = await start(client, session_id, auth_a)

    assert response.status_code == 201, response.text
    assert response.json()["account_id"] == "fca_savings"
    assert response.json()["replaces_payment_method_id"] == "pm_old_newest"
    sent = dict(parse_qsl(created.calls.last.request.content.decode()))
    assert sent["payment_method_data[us_bank_account][financial_connections_account]"] == (
        "fca_savings"
    )


async def test_a_relink_that_repaired_the_old_accounts_login_needs_no_payment_method(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    await seed_broken_pair(seed)
    session_id = await start_session(client, stripe_mock, auth_a, scope="institution")
    stripe_mock.get(SESSION_1).respond(
        200,
        json=fc_session(
            status="succeeded",
            account=None,
            accounts=[fc_account("fca_savings", subcategory="savings", last4="1111")],
            relink_result=relink_result(authorization="fcauth_1"),
        ),
    )
    stripe_mock.get(f"{ACCOUNTS}/fca_checking").respond(200, json=fc_account("fca_checking"))
    done = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)
    assert done.json()["next_step"] == "none", done.text
    created = stripe_mock.post(SETUP_INTENTS).respond(200, json=setup_intent())

    response = await start(client, session_id, auth_a, account_id="fca_savings")

    assert_problem(response, 409, "payment-method-not-needed")
    assert not created.called


async def test_a_relink_that_linked_several_accounts_must_be_told_which(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    session_id = await two_new_accounts_session(client, stripe_mock, seed, auth_a)
    mock_existing_methods(stripe_mock)
    created = stripe_mock.post(SETUP_INTENTS).respond(200, json=setup_intent())

    unnamed = await start(client, session_id, auth_a)
    named = await start(client, session_id, auth_a, account_id="fca_new2")

    problem = assert_problem(unnamed, 422, "validation-failed")
    assert problem["errors"] == [{"loc": ["body", "account_id"], "msg": "required"}]
    assert named.status_code == 201, named.text
    assert named.json()["account_id"] == "fca_new2"
    assert created.call_count == 1


async def test_a_second_account_cannot_start_while_the_first_is_being_set_up(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    session_id = await two_new_accounts_session(client, stripe_mock, seed, auth_a)
    mock_existing_methods(stripe_mock)
    created = stripe_mock.post(SETUP_INTENTS).respond(200, json=setup_intent())
    stripe_mock.get(SETI_1).respond(200, json=setup_intent())
    first = await start(client, session_id, auth_a, account_id="fca_new")
    assert first.status_code == 201, first.text

    second = await start(client, session_id, auth_a, account_id="fca_new2")

    problem = assert_problem(second, 409, "conflict")
    assert "fca_new" in problem["detail"]
    assert created.call_count == 1


async def test_asking_after_success_is_409_without_calling_stripe(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    session_id = await new_account_session(client, stripe_mock, seed, auth_a)
    listed = mock_existing_methods(stripe_mock)
    created = stripe_mock.post(SETUP_INTENTS).respond(200, json=setup_intent())
    await start(client, session_id, auth_a)
    read = stripe_mock.get(SETI_1).respond(
        200, json=setup_intent(status="succeeded", method=payment_method())
    )
    await client.post(f"/v1/relink-sessions/{session_id}/payment-method/complete", headers=auth_a)

    response = await start(client, session_id, auth_a)

    problem = assert_problem(response, 409, "payment-method-already-set-up")
    assert problem["payment_method_id"] == "pm_new"
    assert problem["setup_intent_id"] == "seti_1"
    assert (listed.call_count, created.call_count, read.call_count) == (1, 1, 1)


async def test_asking_again_after_a_success_nobody_reported_is_409_and_creates_nothing(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    session_id = await new_account_session(client, stripe_mock, seed, auth_a)
    mock_existing_methods(stripe_mock)
    created = stripe_mock.post(SETUP_INTENTS).respond(200, json=setup_intent())
    await start(client, session_id, auth_a)
    # The customer confirmed, but neither the page's `complete` nor the webhook arrived.
    stripe_mock.get(SETI_1).respond(
        200, json=setup_intent(status="succeeded", method=payment_method())
    )

    response = await start(client, session_id, auth_a)

    problem = assert_problem(response, 409, "payment-method-already-set-up")
    assert problem["payment_method_id"] == "pm_new"
    assert created.call_count == 1
    setups, methods = await stored_rows(db)
    assert [setup["status"] for setup in setups] == ["succeeded"]
    assert [method["id"] for method in methods] == ["pm_new"]


async def test_asking_again_after_a_failure_nobody_reported_starts_a_new_setup(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    session_id = await new_account_session(client, stripe_mock, seed, auth_a)
    mock_existing_methods(stripe_mock)
    created = stripe_mock.post(SETUP_INTENTS)
    created.respond(200, json=setup_intent())
    await start(client, session_id, auth_a)
    stripe_mock.get(SETI_1).respond(
        200,
        json=setup_intent(
            status="requires_payment_method", method=None, error_code="bank_account_unusable"
        ),
    )
    created.respond(200, json=setup_intent("seti_2"))

    response = await start(client, session_id, auth_a)

    assert response.status_code == 201, response.text
    assert response.json()["setup_intent_id"] == "seti_2"
    assert response.json()["client_secret"] == "seti_2_secret_Qm7Zp2Lx"
    assert response.json()["status"] == "pending"
    assert created.call_count == 2
    setups, _methods = await stored_rows(db)
    assert [(setup["id"], setup["status"]) for setup in setups] == [
        ("seti_1", "failed"),
        ("seti_2", "pending"),
    ]


async def test_a_canceled_setup_is_recorded_and_a_new_one_can_start(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    session_id = await new_account_session(client, stripe_mock, seed, auth_a)
    mock_existing_methods(stripe_mock)
    created = stripe_mock.post(SETUP_INTENTS)
    created.respond(200, json=setup_intent())
    await start(client, session_id, auth_a)
    canceled = setup_intent(status="canceled", method=None)
    stripe_mock.get(SETI_1).respond(200, json=canceled)

    response = await deliver(client, event("setup_intent.canceled", canceled))

    assert response.json()["result"] == "applied"
    state = await setup_state(client, session_id, auth_a)
    assert state["status"] == "canceled"
    assert state["failure"] is None
    created.respond(200, json=setup_intent("seti_2"))
    retry = await start(client, session_id, auth_a)
    assert retry.status_code == 201, retry.text
    assert retry.json()["setup_intent_id"] == "seti_2"


async def test_a_late_event_never_reopens_a_canceled_setup(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    session_id = await started_setup(client, stripe_mock, seed, auth_a)
    read = stripe_mock.get(SETI_1)
    read.respond(200, json=setup_intent(status="canceled", method=None))
    await client.post(f"/v1/relink-sessions/{session_id}/payment-method/complete", headers=auth_a)
    read.respond(404, json=stripe_error(code="resource_missing"))

    stale = event("setup_intent.requires_action", setup_intent(status="requires_action"))
    response = await deliver(client, stale)

    assert response.json()["result"] == "applied"
    setups, methods = await stored_rows(db)
    assert [(setup["status"], setup["stripe_status"]) for setup in setups] == [
        ("canceled", "canceled")
    ]
    assert methods == []


async def test_a_setup_intent_waiting_for_a_payment_method_without_an_error_is_pending(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    session_id = await started_setup(client, stripe_mock, seed, auth_a)
    stripe_mock.get(SETI_1).respond(
        200, json=setup_intent(status="requires_payment_method", method=None)
    )

    response = await client.post(
        f"/v1/relink-sessions/{session_id}/payment-method/complete", headers=auth_a
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "pending"
    assert response.json()["failure"] is None


async def test_a_setup_still_awaiting_the_mandate_records_no_payment_method(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    session_id = await started_setup(client, stripe_mock, seed, auth_a)
    # Made from payment_method_data, the payment method exists before the customer confirms.
    stripe_mock.get(SETI_1).respond(
        200, json=setup_intent(status="requires_confirmation", method=payment_method())
    )

    response = await client.post(
        f"/v1/relink-sessions/{session_id}/payment-method/complete", headers=auth_a
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "pending"
    assert response.json()["payment_method"] is None
    assert (await client.get("/v1/payment-methods", headers=auth_a)).json()["data"] == []
    account = (await client.get("/v1/accounts/fca_new", headers=auth_a)).json()
    assert account["needs_new_payment_method"] is True


async def test_a_later_read_of_stripes_copy_updates_whether_the_method_is_blocked(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    session_id = await started_setup(client, stripe_mock, seed, auth_a)
    read = stripe_mock.get(SETI_1)
    read.respond(200, json=setup_intent(status="succeeded", method=payment_method()))
    await client.post(f"/v1/relink-sessions/{session_id}/payment-method/complete", headers=auth_a)
    blocked = payment_method(blocked_reason="tokenized_account_number_deactivated")
    read.respond(200, json=setup_intent(status="succeeded", method=blocked))

    redelivered = event("setup_intent.succeeded", setup_intent(status="succeeded"))
    response = await deliver(client, redelivered)

    assert response.json()["result"] == "applied"
    (method,) = (await client.get("/v1/payment-methods", headers=auth_a)).json()["data"]
    assert method["usable"] is False
    assert method["unusable_reason"] == "blocked"


async def test_a_page_holding_the_last_payment_method_has_no_more(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    session_id = await started_setup(client, stripe_mock, seed, auth_a)
    stripe_mock.get(SETI_1).respond(
        200, json=setup_intent(status="succeeded", method=payment_method())
    )
    await client.post(f"/v1/relink-sessions/{session_id}/payment-method/complete", headers=auth_a)

    page = (await client.get("/v1/payment-methods?limit=1", headers=auth_a)).json()

    assert [method["id"] for method in page["data"]] == ["pm_new"]
    assert page["has_more"] is False
    assert page["next_cursor"] is None


async def test_payment_method_list_pages_by_cursor(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    session_id = await new_account_session(client, stripe_mock, seed, auth_a)
    await store_earlier_payment_methods(
        db, session_id=session_id, account_id="fca_checking", oldest_first=["pm_c", "pm_a", "pm_b"]
    )

    first = (await client.get("/v1/payment-methods?limit=2", headers=auth_a)).json()
    second = (
        await client.get(
            f"/v1/payment-methods?limit=2&cursor={first['next_cursor']}", headers=auth_a
        )
    ).json()

    assert [method["id"] for method in first["data"]] == ["pm_a", "pm_b"]
    assert first["has_more"] is True
    assert [method["id"] for method in second["data"]] == ["pm_c"]
    assert second["has_more"] is False


async def test_an_earlier_setup_that_succeeds_late_is_recorded_and_the_newer_one_dropped(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    session_id = await started_setup(client, stripe_mock, seed, auth_a)
    failed = setup_intent(status="requires_payment_method", error_code="bank_account_unusable")
    first = stripe_mock.get(SETI_1)
    first.respond(200, json=failed)
    await deliver(client, event("setup_intent.setup_failed", failed))
    stripe_mock.post(SETUP_INTENTS).respond(200, json=setup_intent("seti_2"))
    assert (await start(client, session_id, auth_a)).json()["setup_intent_id"] == "seti_2"
    # A mobile sheet retries the first SetupIntent with its own secret, and it succeeds.
    first.respond(200, json=setup_intent(status="succeeded", method=payment_method()))
    # The newer one, no longer needed, is canceled at Stripe too.
    stripe_mock.get(f"{SETUP_INTENTS}/seti_2").respond(200, json=setup_intent("seti_2"))
    stripe_mock.post(f"{SETUP_INTENTS}/seti_2/cancel").respond(
        200, json=setup_intent("seti_2", status="canceled", method=None)
    )

    response = await deliver(client, event("setup_intent.succeeded", setup_intent()))

    assert response.status_code == 200, response.text
    assert response.json()["result"] == "applied"
    async with db.connection() as conn:
        records = await conn.fetch("SELECT id, status FROM setup_intents")
    statuses = {record["id"]: record["status"] for record in records}
    assert statuses == {"seti_1": "succeeded", "seti_2": "canceled"}
    listed = (await client.get("/v1/payment-methods", headers=auth_a)).json()["data"]
    assert [method["id"] for method in listed] == ["pm_new"]
    assert_problem(await start(client, session_id, auth_a), 409, "payment-method-already-set-up")


async def test_an_idempotency_key_replays_the_setup_intent_even_after_it_succeeded(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    session_id = await new_account_session(client, stripe_mock, seed, auth_a)
    mock_existing_methods(stripe_mock)
    created = stripe_mock.post(SETUP_INTENTS).respond(200, json=setup_intent())
    keyed = {**auth_a, "Idempotency-Key": "setup-1"}
    first = await client.post(
        f"/v1/relink-sessions/{session_id}/payment-method",
        json={"billing_name": "Jenny Rosen"},
        headers=keyed,
    )
    assert first.status_code == 201, first.text
    stripe_mock.get(SETI_1).respond(
        200, json=setup_intent(status="succeeded", method=payment_method())
    )
    completed = await client.post(
        f"/v1/relink-sessions/{session_id}/payment-method/complete", headers=auth_a
    )
    assert completed.json()["status"] == "succeeded"

    replayed = await client.post(
        f"/v1/relink-sessions/{session_id}/payment-method",
        json={"billing_name": "Jenny Rosen"},
        headers=keyed,
    )
    unkeyed = await start(client, session_id, auth_a)

    assert replayed.status_code == 201, replayed.text
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json()["setup_intent_id"] == first.json()["setup_intent_id"]
    assert replayed.json()["client_secret"] == first.json()["client_secret"]
    assert replayed.json()["status"] == "succeeded"
    assert created.call_count == 1
    stripe_key = created.calls.last.request.headers["idempotency-key"]
    assert stripe_key.startswith(f"relink-setup-{session_id}-")
    assert_problem(unkeyed, 409, "payment-method-already-set-up")
    async with db.connection() as conn:
        stored = await conn.fetchval("SELECT resource_ids FROM idempotency_keys")
    assert stored == {"setup_intent_id": "seti_1"}
