"""The outcome checks the relink guide implies: in account scope the account Stripe reports
relinked must be the one asked for, and a succeeded session that names a repaired
authorization but no account is settled by reading that authorization's accounts again."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx

from relink_api.db import Database
from tests.conftest import Seed
from tests.factories import fc_account, fc_session
from tests.integration.test_relink_complete import (
    ACCOUNTS,
    SESSION_1,
    get_account,
    relink_history,
    relink_result,
    seed_broken_pair,
    start_session,
)

SAVINGS = {"subcategory": "savings", "display_name": "Savings", "last4": "1111"}


def mock_reads(
    stripe_mock: respx.MockRouter, *, checking: dict[str, object], savings: dict[str, object]
) -> tuple[respx.Route, respx.Route]:
    """Stripe's current copies of fca_checking and fca_savings (fc_account keywords)."""
    return (
        stripe_mock.get(f"{ACCOUNTS}/fca_checking").respond(
            200,
            json=fc_account("fca_checking", **checking),  # type: ignore[arg-type]
        ),
        stripe_mock.get(f"{ACCOUNTS}/fca_savings").respond(
            200,
            json=fc_account("fca_savings", **{**SAVINGS, **savings}),  # type: ignore[arg-type]
        ),
    )


async def test_account_scope_when_stripe_names_another_account_is_no_account(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await seed_broken_pair(seed)
    session_id = await start_session(client, stripe_mock, auth_a)
    stripe_mock.get(SESSION_1).respond(
        200,
        json=fc_session(
            status="succeeded",
            accounts=[fc_account("fca_savings", **SAVINGS)],  # type: ignore[arg-type]
            relink_result=relink_result(account="fca_savings", authorization="fcauth_1"),
        ),
    )
    checking, savings = mock_reads(stripe_mock, checking={"status": "active"}, savings={})
    caplog.set_level(logging.WARNING, logger="relink_api")

    response = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["outcome"], body["failure_reason"], body["next_step"]) == (
        "failed",
        "no_account",
        "relink_institution",
    )
    assert body["linked_account_ids"] == []
    assert body["reactivated_account_ids"] == []
    # The asked account is not called relinked, nor is anything applied in its name.
    assert not checking.called
    assert not savings.called
    assert (await get_account(client, "fca_checking", auth_a))["link_health"] == "relink_required"
    assert any(
        "fca_savings" in record.getMessage() and "fca_checking" in record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING
    ), caplog.text


async def test_account_scope_success_naming_no_account_rereads_the_authorization(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed_broken_pair(seed)
    session_id = await start_session(client, stripe_mock, auth_a)
    stripe_mock.get(SESSION_1).respond(
        200,
        json=fc_session(
            status="succeeded", accounts=[], relink_result=relink_result(authorization="fcauth_1")
        ),
    )
    checking, savings = mock_reads(
        stripe_mock, checking={"status": "active"}, savings={"status": "active"}
    )

    response = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["outcome"], body["failure_reason"], body["next_step"]) == (
        "relinked",
        None,
        "none",
    )
    assert body["linked_account_ids"] == ["fca_checking"]
    assert body["reactivated_account_ids"] == ["fca_checking", "fca_savings"]
    # Each account is read once, for the verdict and the record alike.
    assert (checking.call_count, savings.call_count) == (1, 1)
    assert await relink_history(db) == [
        ("fca_checking", "inactive", "active", "ok", "relink", session_id),
        ("fca_savings", "inactive", "active", "ok", "relink", session_id),
    ]


async def test_account_scope_reread_finding_the_account_still_broken_is_no_account(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    await seed_broken_pair(seed)
    session_id = await start_session(client, stripe_mock, auth_a)
    stripe_mock.get(SESSION_1).respond(
        200,
        json=fc_session(
            status="succeeded", accounts=[], relink_result=relink_result(authorization="fcauth_1")
        ),
    )
    mock_reads(
        stripe_mock,
        checking={"status": "inactive", "action": "relink_required"},
        savings={"status": "active"},
    )

    response = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["outcome"], body["failure_reason"], body["next_step"]) == (
        "failed",
        "no_account",
        "relink_institution",
    )
    assert body["linked_account_ids"] == []
    # What the re-read found is recorded: the login's repair brought the sibling back.
    assert body["reactivated_account_ids"] == ["fca_savings"]
    assert (await get_account(client, "fca_savings", auth_a))["link_health"] == "ok"
    assert (await get_account(client, "fca_checking", auth_a))["link_health"] == "relink_required"


async def test_institution_scope_success_naming_no_account_rereads_the_authorization(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    # The asked account is closed; the customer picked its sibling at the same bank, and
    # Stripe's session lists no account.
    await seed("fca_checking", status="inactive", action="none", cause="account_closed")
    await seed("fca_savings", status="inactive", action="relink_required", **SAVINGS)
    session_id = await start_session(client, stripe_mock, auth_a, scope="institution")
    stripe_mock.get(SESSION_1).respond(
        200,
        json=fc_session(
            status="succeeded",
            account=None,
            accounts=[],
            relink_result=relink_result(authorization="fcauth_1"),
        ),
    )
    mock_reads(
        stripe_mock,
        checking={"status": "inactive", "action": "none", "cause": "account_closed"},
        savings={"status": "active"},
    )

    response = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["outcome"], body["failure_reason"]) == ("relinked", None)
    assert body["linked_account_ids"] == ["fca_savings"]
    # It stands in for the closed account: its payment methods were never the old one's.
    assert body["next_step"] == "set_up_payment_method"
    savings = await get_account(client, "fca_savings", auth_a)
    assert (savings["link_health"], savings["needs_new_payment_method"]) == ("ok", True)
    assert savings["replaces_account_id"] == "fca_checking"
