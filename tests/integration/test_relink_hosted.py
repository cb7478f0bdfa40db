"""Hosted relink (mobile and email), its /relink/return page, and sessions finished by
Stripe's `session.updated` webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
import respx
from fastapi import FastAPI

from relink_api.app import create_app
from relink_api.db import Database
from relink_api.settings import Settings
from tests.conftest import Seed, make_settings
from tests.factories import fc_account, fc_session, stripe_error
from tests.integration.test_relink_complete import (
    ACCOUNTS,
    SESSION_1,
    SESSIONS,
    relink_result,
    start_session,
)
from tests.stripe_events import deliver, event
from tests.support import assert_problem

BASE = "https://relink.example.com"
HOSTED_URL = "https://connect.stripe.com/hosted/fcsess_1_abc"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, public_base_url=BASE)


def hosted_session(delivery: str, **kwargs: Any) -> dict[str, Any]:
    session = fc_session(**kwargs)
    pending = session["status"] == "pending"
    session.update(
        ui_mode="hosted",
        hosted={"delivery_method": delivery, "return_url": f"{BASE}/relink/return"},
        url=HOSTED_URL if pending else None,
    )
    return session


def sent_form(route: respx.Route) -> dict[str, str]:
    return dict(parse_qsl(route.calls.last.request.content.decode()))


async def create_hosted(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    auth: dict[str, str],
    *,
    delivery: str = "url",
    **body: Any,
) -> tuple[httpx.Response, respx.Route]:
    route = stripe_mock.post(SESSIONS).respond(200, json=hosted_session(delivery))
    response = await client.post(
        "/v1/relink-sessions",
        json={"account_id": "fca_checking", "ui_mode": "hosted", "delivery": delivery, **body},
        headers=auth,
    )
    return response, route


def return_path(route: respx.Route) -> str:
    """The /relink/return URL we gave Stripe, relative to our server."""
    url = urlsplit(sent_form(route)["return_url"])
    assert f"{url.scheme}://{url.netloc}" == BASE
    return f"{url.path}?{url.query}"


async def test_url_delivery_returns_the_hosted_url_and_no_secret(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed(status="inactive", action="relink_required")

    response, route = await create_hosted(client, stripe_mock, auth_a)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["url"] == HOSTED_URL
    assert body["client_secret"] is None
    assert body["ui_mode"] == "hosted"
    assert body["delivery"] == "url"
    assert "_secret_" not in response.text
    sent = sent_form(route)
    assert sent["ui_mode"] == "hosted"
    assert sent["hosted[delivery_method]"] == "url"
    assert sent["relink_options[authorization]"] == "fcauth_1"
    assert sent["relink_options[account]"] == "fca_checking"
    assert "hosted[return_url]" not in sent  # not a create param (docs/stripe.md §1)
    query = parse_qs(urlsplit(sent["return_url"]).query)
    assert query["session"] == [body["id"]]
    (token,) = query["state"]
    assert len(token) >= 32
    async with db.connection() as conn:
        stored = await conn.fetchval(
            "SELECT row_to_json(s)::text FROM relink_sessions s WHERE id = $1", body["id"]
        )
    assert token not in stored
    assert "_secret_" not in stored


async def test_email_delivery_returns_neither_secret_nor_url(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(status="inactive", action="relink_required")

    response, route = await create_hosted(client, stripe_mock, auth_a, delivery="email")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["client_secret"] is None
    assert body["url"] is None
    assert body["delivery"] == "email"
    assert sent_form(route)["hosted[delivery_method]"] == "email"
    read = await client.get(f"/v1/relink-sessions/{body['id']}", headers=auth_a)
    assert read.json()["ui_mode"] == "hosted"
    assert read.json()["delivery"] == "email"


@pytest.mark.parametrize(
    "body",
    [
        {"ui_mode": "hosted"},
        {"ui_mode": "modal", "delivery": "url"},
        {"delivery": "email"},
        {"ui_mode": "hosted", "delivery": "sms"},
        {"ui_mode": "popup"},
    ],
    ids=["hosted-without-delivery", "modal-with-delivery", "delivery-alone", "sms", "popup"],
)
async def test_inconsistent_modes_are_422(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    body: dict[str, Any],
) -> None:
    await seed(status="inactive", action="relink_required")
    route = stripe_mock.post(SESSIONS).respond(200, json=fc_session())
    response = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_checking", **body}, headers=auth_a
    )
    assert_problem(response, 422, "validation-failed")
    assert not route.called


@pytest.mark.parametrize(
    "return_url",
    [
        "https://evil.example",
        "javascript:alert(1)",
        "//evil.example/back",
        "https://app.example.com@evil.example/",
        "https://app.example.com.evil.example/",
        "exampleapp:/x",
        "JAVASCRIPT://app.example.com/%0aalert(1)",
    ],
)
async def test_hosted_return_url_outside_the_allowlist_is_422(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    return_url: str,
) -> None:
    await seed(status="inactive", action="relink_required")
    response, route = await create_hosted(client, stripe_mock, auth_a, return_url=return_url)
    assert_problem(response, 422, "validation-failed")
    assert not route.called


async def test_hosted_needs_a_public_base_url(
    database_url: str, stripe_mock: respx.MockRouter
) -> None:
    from relink_api.app import create_app
    from tests.conftest import bearer

    settings = make_settings(database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post(
                "/v1/relink-sessions",
                json={"account_id": "fca_x", "ui_mode": "hosted", "delivery": "url"},
                headers=bearer(settings, "cus_A"),
            )
    problem = assert_problem(response, 501, "not-configured")
    assert "RELINK_PUBLIC_BASE_URL" in problem["detail"]


def mock_relinked(stripe_mock: respx.MockRouter) -> respx.Route:
    return stripe_mock.get(SESSION_1).respond(
        200,
        json=hosted_session(
            "url",
            status="succeeded",
            accounts=[fc_account("fca_checking")],
            relink_result=relink_result(account="fca_checking", authorization="fcauth_1"),
        ),
    )


async def test_the_return_page_completes_the_session_and_shows_the_outcome(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(status="inactive", action="relink_required")
    created, route = await create_hosted(client, stripe_mock, auth_a)
    retrieve = mock_relinked(stripe_mock)

    page = await client.get(return_path(route))

    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'data-outcome="relinked"' in page.text
    assert "Your bank account is reconnected" in page.text
    assert "<script" not in page.text
    session = await client.get(f"/v1/relink-sessions/{created.json()['id']}", headers=auth_a)
    assert session.json()["outcome"] == "relinked"
    assert session.json()["status"] == "completed"
    again = await client.get(return_path(route))
    assert again.status_code == 200
    assert retrieve.call_count == 1  # completed once; the reload reads our record


@pytest.mark.parametrize(
    "return_url", ["exampleapp://relink-done?from=bank", "https://app.example.com/done"]
)
async def test_the_return_page_forwards_to_the_clients_return_url(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    return_url: str,
) -> None:
    await seed(status="inactive", action="relink_required")
    created, route = await create_hosted(client, stripe_mock, auth_a, return_url=return_url)
    mock_relinked(stripe_mock)

    page = await client.get(return_path(route))

    assert page.status_code == 303
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    location = urlsplit(page.headers["location"])
    expected = urlsplit(return_url)
    assert (location.scheme, location.netloc, location.path) == (
        expected.scheme,
        expected.netloc,
        expected.path,
    )
    query = parse_qs(location.query)
    assert query["relink_session"] == [created.json()["id"]]
    assert query["outcome"] == ["relinked"]
    assert query["next_step"] == ["none"]
    if expected.query:
        assert query["from"] == ["bank"]


async def test_the_return_page_refuses_a_wrong_token_as_not_found(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(status="inactive", action="relink_required")
    created, _route = await create_hosted(client, stripe_mock, auth_a)
    retrieve = mock_relinked(stripe_mock)
    session_id = created.json()["id"]

    for path in (
        f"/relink/return?session={session_id}&state=guessed-token-guessed-token-0000",
        "/relink/return?session=rls_unknown&state=whatever",
        f"/relink/return?session={session_id}",
    ):
        page = await client.get(path)
        assert page.status_code in (404, 422), path
    assert not retrieve.called


async def test_the_return_page_waits_for_a_pending_session(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(status="inactive", action="relink_required")
    created, route = await create_hosted(client, stripe_mock, auth_a)
    stripe_mock.get(SESSION_1).respond(200, json=hosted_session("url"))

    page = await client.get(return_path(route))

    assert page.status_code == 202
    assert "Reload this page" in page.text
    session = await client.get(f"/v1/relink-sessions/{created.json()['id']}", headers=auth_a)
    assert session.json()["status"] == "open"


async def test_session_updated_webhook_completes_an_emailed_relink(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed(status="inactive", action="relink_required")
    created, _route = await create_hosted(client, stripe_mock, auth_a, delivery="email")
    retrieve = mock_relinked(stripe_mock)
    finished = hosted_session("email", status="succeeded")

    response = await deliver(client, event("financial_connections.session.updated", finished))

    assert response.status_code == 200, response.text
    assert response.json()["result"] == "applied"
    session = await client.get(f"/v1/relink-sessions/{created.json()['id']}", headers=auth_a)
    assert session.json()["outcome"] == "relinked"
    assert retrieve.call_count == 1
    async with db.connection() as conn:
        payloads = await conn.fetchval("SELECT string_agg(payload::text, '') FROM webhook_events")
    assert "_secret_" not in payloads


async def test_session_updated_for_other_or_pending_sessions_is_ignored(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(status="inactive", action="relink_required")
    await create_hosted(client, stripe_mock, auth_a)
    stripe_mock.get(SESSION_1).respond(200, json=hosted_session("url"))
    elsewhere = stripe_mock.get(f"{SESSIONS}/fcsess_elsewhere").respond(200, json={})

    pending = await deliver(client, event("financial_connections.session.updated", fc_session()))
    other = await deliver(
        client, event("financial_connections.session.updated", fc_session("fcsess_elsewhere"))
    )

    assert pending.json()["result"] == "ignored"
    assert other.json()["result"] == "ignored"
    assert not elsewhere.called


@pytest.mark.parametrize("obj", [{}, {"id": ""}, {"id": 7}], ids=["missing", "empty", "number"])
async def test_a_session_event_without_an_id_is_400(
    client: httpx.AsyncClient, obj: dict[str, Any]
) -> None:
    response = await deliver(client, event("financial_connections.session.updated", obj))
    assert_problem(response, 400, "webhook-event-malformed")


async def test_an_unrepairable_account_can_be_replaced_at_the_same_bank(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed("fca_checking", status="inactive", action="none", cause="account_closed")
    await seed("fca_savings", subcategory="savings", display_name="Savings", last4="1111")
    stripe_mock.post(SESSIONS).respond(200, json=fc_session(account=None))
    account_scope = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_checking"}, headers=auth_a
    )
    assert_problem(account_scope, 409, "account-not-repairable")

    created = await client.post(
        "/v1/relink-sessions",
        json={"account_id": "fca_checking", "scope": "institution"},
        headers=auth_a,
    )
    assert created.status_code == 201, created.text
    stripe_mock.get(SESSION_1).respond(
        200,
        json=fc_session(
            status="succeeded",
            account=None,
            accounts=[fc_account("fca_savings", subcategory="savings", last4="1111")],
            relink_result=relink_result(authorization="fcauth_1"),
        ),
    )
    stripe_mock.get(f"{ACCOUNTS}/fca_checking").respond(
        200, json=fc_account("fca_checking", status="inactive", action="none")
    )

    done = await client.post(f"/v1/relink-sessions/{created.json()['id']}/complete", headers=auth_a)

    body = done.json()
    assert body["outcome"] == "relinked"
    assert body["next_step"] == "set_up_payment_method"
    savings = (await client.get("/v1/accounts/fca_savings", headers=auth_a)).json()
    assert savings["needs_new_payment_method"] is True
    assert savings["replaces_account_id"] == "fca_checking"
    assert savings["replacement_relink_session_id"] == created.json()["id"]


@asynccontextmanager
async def server_with(database_url: str, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of another server on the same database, configured differently."""
    app = create_app(make_settings(database_url, **overrides))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


async def test_a_public_base_url_ending_in_a_slash_still_returns_to_the_return_page(
    database_url: str,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    await seed(status="inactive", action="relink_required")
    route = stripe_mock.post(SESSIONS).respond(200, json=hosted_session("url"))

    async with server_with(database_url, public_base_url=BASE + "/") as client:
        response = await client.post(
            "/v1/relink-sessions",
            json={"account_id": "fca_checking", "ui_mode": "hosted", "delivery": "url"},
            headers=auth_a,
        )

    assert response.status_code == 201, response.text
    assert urlsplit(sent_form(route)["return_url"]).path == "/relink/return"


async def test_a_hosted_session_needs_no_client_secret_from_stripe(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(status="inactive", action="relink_required")
    stripe_mock.post(SESSIONS).respond(200, json=hosted_session("url") | {"client_secret": None})

    response = await client.post(
        "/v1/relink-sessions",
        json={"account_id": "fca_checking", "ui_mode": "hosted", "delivery": "url"},
        headers=auth_a,
    )

    assert response.status_code == 201, response.text
    assert response.json()["url"] == HOSTED_URL


async def test_url_delivery_without_a_url_from_stripe_fails_and_stores_nothing(
    app: FastAPI,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed(status="inactive", action="relink_required")
    stripe_mock.post(SESSIONS).respond(200, json=hosted_session("url") | {"url": None})
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post(
            "/v1/relink-sessions",
            json={"account_id": "fca_checking", "ui_mode": "hosted", "delivery": "url"},
            headers=auth_a,
        )

    assert_problem(response, 500, "internal-error")
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM relink_sessions") == 0


async def test_the_return_page_of_a_modal_session_is_not_found(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(status="inactive", action="relink_required")
    session_id = await start_session(client, stripe_mock, auth_a)
    retrieve = mock_relinked(stripe_mock)

    page = await client.get(f"/relink/return?session={session_id}&state=any-state-at-all")

    assert page.status_code == 404
    assert "This link is not valid" in page.text
    assert not retrieve.called


async def test_the_return_page_asks_for_a_reload_while_stripe_cannot_answer(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(status="inactive", action="relink_required")
    created, route = await create_hosted(client, stripe_mock, auth_a)
    stripe_mock.get(SESSION_1).respond(500, json=stripe_error(type="api_error"))

    page = await client.get(return_path(route))

    assert page.status_code == 502
    assert "We could not check the result yet" in page.text
    session = await client.get(f"/v1/relink-sessions/{created.json()['id']}", headers=auth_a)
    assert session.json()["status"] == "open"


async def test_the_return_page_explains_a_failed_relink(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(status="inactive", action="relink_required")
    _created, route = await create_hosted(client, stripe_mock, auth_a)
    stripe_mock.get(SESSION_1).respond(
        200,
        json=hosted_session(
            "url", status="failed", relink_result=relink_result(failure_reason="no_account")
        ),
    )

    page = await client.get(return_path(route))

    assert page.status_code == 200
    assert 'data-outcome="failed"' in page.text
    assert "The account was not linked" in page.text


async def test_the_return_page_forwards_only_to_a_return_url_still_allowed(
    database_url: str,
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    await seed(status="inactive", action="relink_required")
    _created, route = await create_hosted(
        client, stripe_mock, auth_a, return_url="exampleapp://relink-done"
    )
    mock_relinked(stripe_mock)

    # The operator has since dropped the app scheme from the allowlist.
    async with server_with(
        database_url, public_base_url=BASE, return_url_allowlist=["https://app.example.com"]
    ) as narrowed:
        page = await narrowed.get(return_path(route))

    assert page.status_code == 200
    assert "location" not in page.headers
    assert 'data-outcome="relinked"' in page.text


async def test_the_forward_keeps_the_clients_query_as_it_was(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(status="inactive", action="relink_required")
    _created, route = await create_hosted(
        client, stripe_mock, auth_a, return_url="https://app.example.com/done?from=bank&tab="
    )
    mock_relinked(stripe_mock)

    page = await client.get(return_path(route))

    assert page.status_code == 303
    query = parse_qsl(urlsplit(page.headers["location"]).query, keep_blank_values=True)
    assert query[:2] == [("from", "bank"), ("tab", "")]


async def test_the_event_log_holds_no_client_secret_even_inside_a_list(
    client: httpx.AsyncClient, db: Database
) -> None:
    sessions = {"object": "list", "data": [fc_session("fcsess_x"), fc_session("fcsess_y")]}

    response = await deliver(client, event("financial_connections.session.listed", sessions))

    assert response.json()["result"] == "ignored"
    async with db.connection() as conn:
        payload = await conn.fetchval("SELECT payload::text FROM webhook_events")
    assert "fcsess_x" in payload
    assert "_secret_" not in payload


async def test_the_return_page_asks_for_a_payment_method_when_another_account_stood_in(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed("fca_checking", status="inactive", action="none", cause="account_closed")
    await seed("fca_savings", subcategory="savings", display_name="Savings", last4="1111")
    created, route = await create_hosted(client, stripe_mock, auth_a, scope="institution")
    assert created.status_code == 201, created.text
    stripe_mock.get(SESSION_1).respond(
        200,
        json=hosted_session(
            "url",
            status="succeeded",
            account=None,
            accounts=[fc_account("fca_savings", subcategory="savings", last4="1111")],
            relink_result=relink_result(authorization="fcauth_1"),
        ),
    )
    stripe_mock.get(f"{ACCOUNTS}/fca_checking").respond(
        200, json=fc_account("fca_checking", status="inactive", action="none")
    )

    page = await client.get(return_path(route))

    assert page.status_code == 200, page.text
    assert 'data-outcome="relinked"' in page.text
    assert "Payments from the new account still need to be set up" in page.text
    assert "Everything is working again" not in page.text


async def test_a_modal_relink_without_a_publishable_key_is_501_before_stripe(
    database_url: str,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    # A modal answer always carries the key its client secret goes with; a server that has
    # none says so rather than making a session no client can open.
    await seed(status="inactive", action="relink_required")
    route = stripe_mock.post(SESSIONS).respond(200, json=fc_session())

    async with server_with(database_url, stripe_publishable_key=None) as client:
        response = await client.post(
            "/v1/relink-sessions", json={"account_id": "fca_checking"}, headers=auth_a
        )

    problem = assert_problem(response, 501, "not-configured")
    assert "STRIPE_PUBLISHABLE_KEY" in problem["detail"]
    assert not route.called


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"ui_mode": "hosted"}, {"loc": ["body", "delivery"], "msg": "Field required"}),
        (
            {"delivery": "url"},
            {"loc": ["body", "delivery"], "msg": "delivery is only for ui_mode 'hosted'"},
        ),
        (
            {"ui_mode": "popup"},
            {"loc": ["body", "ui_mode"], "msg": "ui_mode must be 'modal' or 'hosted'"},
        ),
        ({"colour": "red"}, {"loc": ["body", "colour"], "msg": "Extra inputs are not permitted"}),
    ],
    ids=["hosted-without-delivery", "modal-with-delivery", "popup", "unknown-field"],
)
async def test_a_refused_create_names_the_field_as_it_was_sent(
    client: httpx.AsyncClient, auth_a: dict[str, str], body: dict[str, Any], error: dict[str, Any]
) -> None:
    # One schema per ui_mode must not leak into the error: `loc` is the field the client
    # sent, not `body.hosted.delivery`.
    response = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_checking", **body}, headers=auth_a
    )
    assert assert_problem(response, 422, "validation-failed")["errors"] == [error]


# --- hosted relink through the API is a gated Stripe preview ------------------------------


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("ui_mode", "Received unknown parameter: ui_mode"),
        ("hosted", "Received unknown parameter: hosted"),
        ("hosted[delivery_method]", "Received unknown parameter: hosted[delivery_method]"),
    ],
)
@pytest.mark.parametrize("delivery", ["url", "email"])
async def test_a_hosted_create_stripe_has_not_enabled_says_what_to_do(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    param: str,
    message: str,
    delivery: str,
) -> None:
    # Stripe grants hosted relink through the API on request; an account without it has
    # the hosted parameters refused.
    await seed(status="inactive", action="relink_required")
    route = stripe_mock.post(SESSIONS).respond(
        400, json=stripe_error(code="parameter_unknown", param=param, message=message)
    )

    response = await client.post(
        "/v1/relink-sessions",
        json={"account_id": "fca_checking", "ui_mode": "hosted", "delivery": delivery},
        headers=auth_a,
    )

    problem = assert_problem(response, 501, "hosted-relink-not-enabled")
    assert route.call_count == 1
    detail = problem["detail"]
    assert message in detail  # Stripe's own words, then what to do about them
    for needle in ("preview", 'ui_mode "modal"', "Stripe Dashboard"):
        assert needle in detail, needle
    assert (problem["stripe_code"], problem["stripe_param"]) == ("parameter_unknown", param)
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM relink_sessions") == 0
