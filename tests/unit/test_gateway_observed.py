"""Every call to Stripe is observed once: one log line naming the operation, the outcome and
Stripe's Request-Id, and one observation in the latency histogram by operation and outcome."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import respx

from relink_api.errors import ProblemError
from relink_api.gateway.client import StripeGateway
from relink_api.metrics.families import REGISTRY
from tests.conftest import make_settings
from tests.factories import API, fc_account, fc_session, stripe_error

SESSION = "fcsess_observed"
OPERATION = "financial_connections.sessions.retrieve"


@pytest.fixture
async def gateway() -> AsyncIterator[StripeGateway]:
    settings = make_settings("postgresql://127.0.0.1:1/unused")
    stripe = StripeGateway(settings, api_key="sk_test_relink123")
    yield stripe
    await stripe.aclose()


def calls(operation: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "relink_stripe_request_duration_seconds_count",
        {"operation": operation, "outcome": outcome},
    )
    return value or 0.0


def stripe_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "relink_api.stripe"]


async def test_an_answered_call_logs_its_request_id_and_counts_as_ok(
    gateway: StripeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    before = calls(OPERATION, "ok")
    with respx.mock(base_url=API) as stripe:
        stripe.get(f"/v1/financial_connections/sessions/{SESSION}").respond(
            200, json=fc_session(SESSION), headers={"Request-Id": "req_answered1"}
        )
        with caplog.at_level(logging.INFO, logger="relink_api.stripe"):
            await gateway.retrieve_session(SESSION)
    (line,) = stripe_lines(caplog)
    assert line.stripe_request_id == "req_answered1"  # type: ignore[attr-defined]
    assert line.stripe_operation == OPERATION  # type: ignore[attr-defined]
    assert line.stripe_outcome == "ok"  # type: ignore[attr-defined]
    assert line.duration_ms >= 0  # type: ignore[attr-defined]
    assert "req_answered1" in line.getMessage()
    assert calls(OPERATION, "ok") == before + 1


async def test_a_refused_call_logs_stripes_request_id_and_counts_by_outcome(
    gateway: StripeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    operation = "financial_connections.accounts.retrieve"
    before = calls(operation, "resource_missing")
    with respx.mock(base_url=API) as stripe:
        stripe.get("/v1/financial_connections/accounts/fca_gone").respond(
            404,
            json=stripe_error(code="resource_missing", message="No such account."),
            headers={"Request-Id": "req_refused1"},
        )
        with caplog.at_level(logging.INFO, logger="relink_api.stripe"):
            with pytest.raises(ProblemError) as raised:
                await gateway.retrieve_account("fca_gone")
    assert raised.value.slug == "stripe-resource-missing"
    (line,) = stripe_lines(caplog)
    assert line.stripe_request_id == "req_refused1"  # type: ignore[attr-defined]
    assert line.stripe_outcome == "resource_missing"  # type: ignore[attr-defined]
    assert calls(operation, "resource_missing") == before + 1


async def test_each_page_of_a_list_is_one_observed_call(
    gateway: StripeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    operation = "financial_connections.accounts.list"
    before = calls(operation, "ok")
    first = fc_account("fca_page1")
    pages = [
        {"object": "list", "data": [first], "has_more": True, "url": "/v1/x"},
        {"object": "list", "data": [fc_account("fca_page2")], "has_more": False, "url": "/v1/x"},
    ]
    with respx.mock(base_url=API) as stripe:
        stripe.get("/v1/financial_connections/accounts").mock(
            side_effect=[
                respx.MockResponse(200, json=page, headers={"Request-Id": f"req_page{n}"})
                for n, page in enumerate(pages, start=1)
            ]
        )
        with caplog.at_level(logging.INFO, logger="relink_api.stripe"):
            found = [account.id async for account, _ in gateway.list_customer_accounts("cus_A")]
    assert found == ["fca_page1", "fca_page2"]
    ids = [line.stripe_request_id for line in stripe_lines(caplog)]  # type: ignore[attr-defined]
    assert ids == ["req_page1", "req_page2"]
    assert calls(operation, "ok") == before + 2
