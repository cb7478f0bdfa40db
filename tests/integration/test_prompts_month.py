"""A month of reminders, simulated on a fake clock an hour at a time with two reminder
loops racing: the right events on the right days, none after recovery, and the repair
funnel of the operator summary equal to what this script counts by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from relink_api.accounts.state import Origin, Read, RelinkRead
from relink_api.auth import admin_key_digest
from relink_api.db import Database
from relink_api.gateway.client import StripeGateway
from relink_api.prompts.scheduler import send_due_reminders
from relink_api.settings import Settings
from tests.conftest import make_settings
from tests.factories import fc_session, stripe_error
from tests.integration.test_prompts_transitions import (
    BROKEN,
    SYNC,
    episodes,
    events,
    observe,
    relink_session,
)

ADMIN_KEY = "rk_admin_" + "M" * 43
SESSIONS = "/v1/financial_connections/sessions"
# Monday, six weeks before this one: inside the summary's default eight weeks.
_TODAY = datetime.now(UTC).date()
START = datetime.combine(
    _TODAY - timedelta(days=_TODAY.weekday(), weeks=6), datetime.min.time(), tzinfo=UTC
)


def day(number: int, hour: int = 9) -> datetime:
    return START + timedelta(days=number, hours=hour)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        outbound_workers=0,
        reminder_interval_seconds=0,
        reminder_email=True,
        public_base_url="https://relink.example.com",
        admin_api_key_sha256=admin_key_digest(ADMIN_KEY),
    )


def stripe_emails(stripe_mock: respx.MockRouter) -> respx.Route:
    """Stripe creates every emailed relink, except fca_b's, which it refuses."""
    count = iter(range(1, 100))

    def create(request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        account = form["relink_options[account]"]
        if account == "fca_b":
            return httpx.Response(400, json=stripe_error(message="No email for this customer."))
        session = fc_session(f"fcsess_{next(count)}", account=account)
        session.update(ui_mode="hosted", hosted={"delivery_method": "email"})
        return httpx.Response(200, json=session)

    return stripe_mock.post(SESSIONS).mock(side_effect=create)


def hours(until: datetime) -> Iterator[datetime]:
    moment = START
    while moment <= until:
        yield moment
        moment += timedelta(hours=1)


async def simulate_month(db: Database, gateway: StripeGateway, settings: Settings) -> None:
    """Six accounts of cus_A over 31 days (see ``EXPECTED``), two reminder loops each hour."""
    # The host application's endpoint, subscribed to the account events.
    async with db.connection() as conn:
        await conn.execute(
            "INSERT INTO webhook_endpoints (id, url, event_types, secret) VALUES ('we_1', "
            "'https://app.example.com/hooks', ARRAY['account.relink_required', "
            "'account.expiring', 'account.recovered'], 'whsec_dGVzdA==')"
        )
    expected = day(30, 10)
    script: dict[datetime, list[tuple[str, Origin, dict[str, Any]]]] = {
        day(0): [("fca_a", SYNC, BROKEN)],
        day(0, 10): [
            (
                "fca_f",
                SYNC,
                {
                    "action": "relink_required",
                    "cause": "access_expired",
                    "expected_deactivation_date": int(expected.timestamp()),
                },
            ),
        ],
        day(1): [("fca_b", SYNC, BROKEN)],
        # Relinked early: before its first reminder.
        day(2, 8): [("fca_b", RelinkRead("rls_b", "cus_A"), {})],
        day(3): [("fca_c", SYNC, BROKEN)],
        day(6): [("fca_d", RelinkRead("rls_c", "cus_A", replaces_account_id="fca_c"), {})],
        day(8): [("fca_e", SYNC, {**BROKEN, "cause": "account_unavailable"})],
        # The bank comes back.
        day(9, 15): [("fca_e", Read(SYNC.source), {})],
    }
    for moment in hours(START + timedelta(days=31)):
        for account_id, origin, snapshot in script.get(moment, []):
            if account_id == "fca_d":
                await relink_session(db, "rls_c", "fca_c")
            await observe(
                db, account_id, moment, origin, authorization=f"fcauth_{account_id}", **snapshot
            )
        await asyncio.gather(
            send_due_reminders(db, gateway, settings, now=moment),
            send_due_reminders(db, gateway, settings, now=moment),
        )


# (when, type, account, reminder number): the transition events have no number.
EXPECTED = [
    (day(0), "account.relink_required", "fca_a", None),
    (day(0, 10), "account.expiring", "fca_f", None),
    (day(1), "account.relink_required", "fca_a", 2),
    (day(1), "account.relink_required", "fca_b", None),
    (day(2, 8), "account.recovered", "fca_b", None),
    (day(3), "account.relink_required", "fca_c", None),
    (day(4), "account.relink_required", "fca_a", 3),
    (day(4), "account.relink_required", "fca_c", 2),
    (day(8), "account.relink_required", "fca_e", None),
    (day(9), "account.relink_required", "fca_e", 2),
    (day(9, 15), "account.recovered", "fca_e", None),
    (day(10), "account.relink_required", "fca_a", 4),
    (day(23, 10), "account.expiring", "fca_f", 2),
    (day(29, 10), "account.expiring", "fca_f", 3),
]


def summary(event: dict[str, Any]) -> tuple[datetime, str, str, int | None]:
    reminder = event["data"]["reminder"]
    return (
        datetime.fromisoformat(event["timestamp"]),
        event["type"],
        event["data"]["account"]["id"],
        reminder["number"] if reminder else None,
    )


@pytest.fixture
async def month(
    db: Database, app: Any, settings: Settings, stripe_mock: respx.MockRouter
) -> respx.Route:
    emails = stripe_emails(stripe_mock)
    await simulate_month(db, app.state.stripe, settings)
    return emails


async def test_a_month_of_reminders_sends_the_right_events_on_the_right_days(
    db: Database, month: respx.Route
) -> None:
    sent = await events(db)
    assert sorted(map(summary, sent), key=lambda row: (row[0], row[2])) == EXPECTED
    reminders = {
        (event["data"]["account"]["id"], event["data"]["reminder"]["number"]): event["data"]
        for event in sent
        if event["data"]["reminder"]
    }
    assert reminders["fca_a", 4]["reminder"] == {
        "schedule": "broken",
        "number": 4,
        "of": 4,
        "broken_since": day(0).isoformat().replace("+00:00", "Z"),
        "expected_at": None,
    }
    assert reminders["fca_f", 3]["reminder"]["of"] == 3
    assert reminders["fca_f", 3]["reminder"]["expected_at"] == day(30, 10).isoformat().replace(
        "+00:00", "Z"
    )
    assert reminders["fca_a", 2]["previous_link_health"] == "relink_required"
    # One email with each prompt the schedule counts (the transition's included), once
    # though two loops ran: a, c and e twice or more, f three times, b refused by Stripe.
    assert month.call_count == 4 + 2 + 2 + 3 + 1
    async with db.connection() as conn:
        failed = await conn.fetch(
            "SELECT p.email_error FROM link_break_prompts p JOIN link_breaks b "
            "ON b.id = p.break_id WHERE p.email = 'failed'"
        )
        unsent = await conn.fetchval(
            "SELECT count(*) FROM link_break_prompts WHERE email = 'pending'"
        )
    assert [row["email_error"] for row in failed] == [
        "Stripe rejected the request: No email for this customer."
    ]
    assert unsent == 0
    closed = {episode["account_id"]: episode["closed_reason"] for episode in await episodes(db)}
    assert closed == {
        "fca_a": None,
        "fca_b": "relinked",
        "fca_c": "new_account",
        "fca_e": "recovered",
        "fca_f": None,
    }


async def test_the_funnel_over_the_month_matches_the_count_by_hand(
    db: Database, client: httpx.AsyncClient, month: respx.Route
) -> None:
    # Delivered: every event of fca_a's, and fca_e's reminder; fca_c's never were (its
    # customer was emailed), fca_b's neither (and Stripe refused its email).
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE outbound_deliveries SET status = 'delivered', "
            "delivered_at = created_at + interval '1 minute' WHERE event_id IN ("
            " SELECT p.event_id FROM link_break_prompts p JOIN link_breaks b"
            " ON b.id = p.break_id"
            " WHERE b.account_id = 'fca_a' OR (b.account_id = 'fca_e' AND p.number = 2))"
        )

    response = await client.get("/v1/admin/summary", headers={"X-Admin-Key": ADMIN_KEY})

    assert response.status_code == 200, response.text
    funnel = response.json()["funnel"]
    assert funnel["weeks"] == 8
    assert funnel["since"] == (START - timedelta(weeks=1)).date().isoformat()
    assert funnel["rows"] == [
        {
            "week_start": START.date().isoformat(),
            "cause": "access_expired",
            "broken": 3,  # a, b, c
            "prompted": 2,  # a (events and emails), c (emails)
            "prompted_by_event": 1,  # a
            "prompted_by_email": 2,  # a, c
            "relink_started": 2,  # b relinked, c replaced
            "repaired": {"relinked": 1, "new_account": 1, "recovered": 0},
            "ended": {"unrepairable": 0, "disconnected": 0},
            "still_broken": 1,  # a
            "median_hours_to_repair": (23 + 72) / 2,  # b: 23 h, c: 3 days
        },
        {
            "week_start": (START + timedelta(weeks=1)).date().isoformat(),
            "cause": "account_unavailable",
            "broken": 1,  # e
            "prompted": 1,
            "prompted_by_event": 1,
            "prompted_by_email": 1,
            "relink_started": 0,
            "repaired": {"relinked": 0, "new_account": 0, "recovered": 1},
            "ended": {"unrepairable": 0, "disconnected": 0},
            "still_broken": 0,
            "median_hours_to_repair": 30.0,  # day 8 09:00 to day 9 15:00
        },
    ]
    narrow = await client.get("/v1/admin/summary?weeks=1", headers={"X-Admin-Key": ADMIN_KEY})
    assert narrow.json()["funnel"]["rows"] == []
    refused = await client.get("/v1/admin/summary?weeks=27", headers={"X-Admin-Key": ADMIN_KEY})
    assert refused.status_code == 422
