"""Creating Stripe's session goes through the SDK's raw request: the same requestor (the
request, its idempotency key, the errors), with the answer read straight into the gateway's
model rather than built into a StripeObject and turned back into a dict."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
import respx
from stripe import _api_requestor

from tests.conftest import Seed
from tests.factories import fc_session, stripe_error

SESSIONS = "/v1/financial_connections/sessions"


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every StripeObject the SDK's requestor builds from an answer."""
    objects: list[object] = []
    convert = getattr(_api_requestor, "_convert_to_stripe_object")  # noqa: B009 (not re-exported)

    def counted(*args: Any, **kwargs: Any) -> Any:
        made = convert(*args, **kwargs)
        objects.append(made)
        return made

    monkeypatch.setattr(_api_requestor, "_convert_to_stripe_object", counted)
    return objects


async def test_a_create_builds_no_stripe_object_and_logs_the_request_id(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    built: list[object],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="relink_api.stripe")
    await seed(status="inactive", action="relink_required", cause="access_expired")
    route = stripe_mock.post(SESSIONS).respond(
        200, json=fc_session(), headers={"Request-Id": "req_created"}
    )

    created = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_checking"}, headers=auth_a
    )

    assert created.status_code == 201, created.text
    assert created.json()["client_secret"] == "fcsess_1_secret_Zx81Kq0pWm"
    assert built == []
    sent = route.calls.last.request
    assert sent.headers["idempotency-key"].startswith("relink-session-rls_")
    assert sent.headers["user-agent"].startswith("Stripe/v1 PythonBindings/")
    logged = [r for r in caplog.records if r.name == "relink_api.stripe"]
    assert [getattr(r, "stripe_request_id", None) for r in logged] == ["req_created"]


async def test_a_refusal_is_still_the_sdks_error(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(status="inactive", action="relink_required", cause="access_expired")
    stripe_mock.post(SESSIONS).respond(
        400,
        json=stripe_error(message="Relinking is not possible.", param="relink_options[account]"),
        headers={"Request-Id": "req_refused"},
    )

    refused = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_checking"}, headers=auth_a
    )

    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"] == "/problems/stripe-invalid-request"
    assert problem["stripe_param"] == "relink_options[account]"
    assert problem["stripe_request_id"] == "req_refused"
