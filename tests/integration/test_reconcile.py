"""Reconciliation: `sync_accounts` re-reads accounts from Stripe and applies what webhooks
missed, once per account even with several runs at once; the `relink-api sync` command; and
the same sweep inside the server on an interval."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import respx
from click.testing import CliRunner

from relink_api.accounts import state
from relink_api.accounts.state import Notice, Observation, read_time
from relink_api.cli.main import main
from relink_api.db import Database
from relink_api.gateway.client import StripeGateway
from relink_api.gateway.objects import FcAccount
from relink_api.reconcile.service import SyncSummary, sync_accounts
from relink_api.settings import Settings
from tests.conftest import JWT_SECRET, Seed, bearer, make_settings
from tests.factories import API, fc_account, stripe_error
from tests.support import serve

ACCOUNTS = "/v1/financial_connections/accounts"
ACCOUNT_URL = f"{ACCOUNTS}/fca_checking"
SECRET_KEY = "sk_test_relink123"
BROKEN: dict[str, Any] = {
    "status": "inactive",
    "action": "relink_required",
    "cause": "access_expired",
}


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[StripeGateway]:
    stripe = StripeGateway(settings, api_key=SECRET_KEY)
    try:
        yield stripe
    finally:
        await stripe.aclose()


async def run_sync(
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    *,
    stale_after: timedelta | None = None,
    customer_ids: list[str] | None = None,
) -> SyncSummary:
    return await sync_accounts(
        db,
        gateway.paced(settings.sync_requests_per_second),
        customer_ids=customer_ids,
        stale_after=(
            timedelta(seconds=settings.sync_stale_after_seconds)
            if stale_after is None
            else stale_after
        ),
        concurrency=settings.sync_concurrency,
    )


def totals(summary: SyncSummary) -> tuple[int, int, int]:
    return summary.checked, summary.changed, summary.failed


async def history(db: Database, account_id: str = "fca_checking") -> list[dict[str, Any]]:
    async with db.connection() as conn:
        records = await conn.fetch(
            "SELECT from_status, to_status, to_health, source, event_id "
            "FROM account_status_history WHERE account_id = $1 ORDER BY id",
            account_id,
        )
    return [dict(record) for record in records]


async def confirm_hours_ago(db: Database, hours: int) -> None:
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE accounts SET confirmed_at = now() - make_interval(hours => $1)", hours
        )


async def leased(db: Database) -> list[str]:
    async with db.connection() as conn:
        records = await conn.fetch(
            "SELECT id FROM accounts WHERE sync_lease_until IS NOT NULL ORDER BY id"
        )
    return [record["id"] for record in records]


async def test_sync_fixes_an_account_whose_webhook_was_lost(
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    seed: Seed,
    stripe_mock: respx.MockRouter,
    client: httpx.AsyncClient,
    auth_a: dict[str, str],
) -> None:
    assert settings.sync_stale_after_seconds == 6 * 3600
    await seed(status="active")
    await confirm_hours_ago(db, 7)
    earlier = await history(db)
    route = stripe_mock.get(ACCOUNT_URL).respond(200, json=fc_account(**BROKEN))

    first = await run_sync(db, gateway, settings)

    assert totals(first) == (1, 1, 0)
    assert route.call_count == 1
    body = (await client.get("/v1/accounts/fca_checking", headers=auth_a)).json()
    assert (body["status"], body["action"], body["cause"], body["link_health"]) == (
        "inactive",
        "relink_required",
        "access_expired",
        "relink_required",
    )
    assert (await history(db))[len(earlier) :] == [
        {
            "from_status": "active",
            "to_status": "inactive",
            "to_health": "relink_required",
            "source": "sync",
            "event_id": None,
        }
    ]
    assert await leased(db) == []

    # The account was just confirmed: a run with the default age finds nothing to do.
    second = await run_sync(db, gateway, settings)

    assert totals(second) == (0, 0, 0)
    assert route.call_count == 1


async def test_two_runs_at_once_read_each_account_exactly_once(
    db: Database, settings: Settings, seed: Seed, stripe_mock: respx.MockRouter
) -> None:
    account_ids = [f"fca_{n:03d}" for n in range(60)]
    for account_id in account_ids:
        await seed(account_id, status="active")
    await confirm_hours_ago(db, 7)
    reads: list[str] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        account_id = request.url.path.rsplit("/", 1)[-1]
        reads.append(account_id)
        await asyncio.sleep(0.03)  # keep both runs in flight together
        return httpx.Response(200, json=fc_account(account_id, **BROKEN))

    stripe_mock.get(path__regex=rf"^{ACCOUNTS}/fca_\d+$").mock(side_effect=answer)
    gateways = [StripeGateway(settings, api_key=SECRET_KEY) for _ in range(2)]
    try:
        summaries = await asyncio.gather(
            *(
                sync_accounts(
                    db, gateway.paced(1000), stale_after=timedelta(hours=6), concurrency=4
                )
                for gateway in gateways
            )
        )
    finally:
        for gateway in gateways:
            await gateway.aclose()

    assert Counter(reads) == Counter(account_ids)
    assert sum(summary.checked for summary in summaries) == 60
    assert sum(summary.changed for summary in summaries) == 60
    assert sum(summary.failed for summary in summaries) == 0
    # Both runs had work: they really ran side by side.
    assert all(summary.checked > 0 for summary in summaries), summaries
    assert await leased(db) == []
    async with db.connection() as conn:
        assert await conn.fetchval(
            "SELECT count(*) FROM account_status_history WHERE source = 'sync' "
            "AND to_status = 'inactive'"
        ) == len(account_ids)


async def test_a_customer_filter_reads_only_that_customers_connected_accounts(
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    seed: Seed,
    stripe_mock: respx.MockRouter,
) -> None:
    await seed("fca_a_checking", customer="cus_A", status="active")
    await seed("fca_a_savings", customer="cus_A", **BROKEN)
    await seed("fca_a_gone", customer="cus_A", status="disconnected")
    await seed("fca_b_checking", customer="cus_B", status="active")
    await seed("fca_b_gone", customer="cus_B", status="disconnected")
    routes = {
        account_id: stripe_mock.get(f"{ACCOUNTS}/{account_id}").respond(
            200,
            json=fc_account(
                account_id, customer="cus_A" if "_a_" in account_id else "cus_B", status="active"
            ),
        )
        for account_id in (
            "fca_a_checking",
            "fca_a_savings",
            "fca_a_gone",
            "fca_b_checking",
            "fca_b_gone",
        )
    }

    summary = await run_sync(
        db, gateway, settings, customer_ids=["cus_A"], stale_after=timedelta(0)
    )

    assert {account_id: route.call_count for account_id, route in routes.items()} == {
        "fca_a_checking": 1,
        "fca_a_savings": 1,
        "fca_a_gone": 0,
        "fca_b_checking": 0,
        "fca_b_gone": 0,
    }
    assert totals(summary) == (2, 1, 0)

    # Without a filter, every connected account is read, and a disconnected one never.
    everyone = await run_sync(db, gateway, settings, stale_after=timedelta(0))

    assert totals(everyone) == (3, 0, 0)
    assert routes["fca_b_checking"].call_count == 1
    assert routes["fca_a_gone"].call_count == 0
    assert routes["fca_b_gone"].call_count == 0


async def test_a_stripe_failure_is_counted_and_its_lease_released(
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    seed: Seed,
    stripe_mock: respx.MockRouter,
) -> None:
    assert settings.stripe_max_network_retries == 0
    for account_id in ("fca_1", "fca_2", "fca_3"):
        await seed(account_id, status="active")
    await confirm_hours_ago(db, 7)
    good = [
        stripe_mock.get(f"{ACCOUNTS}/{account_id}").respond(
            200, json=fc_account(account_id, **BROKEN)
        )
        for account_id in ("fca_1", "fca_3")
    ]
    failing = stripe_mock.get(f"{ACCOUNTS}/fca_2").respond(
        500, json=stripe_error(type="api_error", message="Something went wrong on our end.")
    )

    summary = await run_sync(db, gateway, settings)

    assert totals(summary) == (3, 2, 1)
    assert [route.call_count for route in good] == [1, 1]
    assert failing.call_count == 1
    async with db.connection() as conn:
        rows = await conn.fetch(
            "SELECT id, status, sync_lease_until, confirmed_at > now() - interval '1 hour' "
            "AS confirmed FROM accounts ORDER BY id"
        )
    assert [dict(row) for row in rows] == [
        {"id": "fca_1", "status": "inactive", "sync_lease_until": None, "confirmed": True},
        {"id": "fca_2", "status": "active", "sync_lease_until": None, "confirmed": False},
        {"id": "fca_3", "status": "inactive", "sync_lease_until": None, "confirmed": True},
    ]

    # Released, not leased for minutes: the next run tries it again straight away.
    again = await run_sync(db, gateway, settings)

    assert totals(again) == (1, 0, 1)
    assert failing.call_count == 2
    assert [route.call_count for route in good] == [1, 1]


async def test_an_unexpected_error_is_counted_and_does_not_end_the_run(
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    seed: Seed,
    stripe_mock: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for account_id in ("fca_1", "fca_2"):
        await seed(account_id, status="active")
    await confirm_hours_ago(db, 7)
    stripe_mock.get(f"{ACCOUNTS}/fca_2").respond(200, json=fc_account("fca_2", **BROKEN))
    real = gateway.retrieve_account

    async def retrieve(account_id: str) -> tuple[FcAccount, dict[str, Any]]:
        if account_id == "fca_1":
            raise RuntimeError("a bug, not a Stripe error")
        return await real(account_id)

    monkeypatch.setattr(gateway, "retrieve_account", retrieve)

    summary = await run_sync(db, gateway, settings)

    assert totals(summary) == (2, 1, 1)
    async with db.connection() as conn:
        leases = await conn.fetch("SELECT id, sync_lease_until FROM accounts ORDER BY id")
    assert [(row["id"], row["sync_lease_until"]) for row in leases] == [
        ("fca_1", None),
        ("fca_2", None),
    ]


# --- the command ---------------------------------------------------------------------------


async def store(database_url: str, *accounts: dict[str, Any]) -> None:
    """Store accounts as a webhook would (never confirmed by a read), outside any app."""
    database = await Database.connect(database_url, make_settings(database_url))
    try:
        for raw in accounts:
            async with database.transaction() as conn:
                await state.apply(
                    conn,
                    Observation(
                        FcAccount.model_validate(raw),
                        raw,
                        read_time() - timedelta(hours=1),
                        Notice("evt_seed", ordered=False),
                    ),
                )
    finally:
        await database.close()


async def stored_states(database_url: str) -> dict[str, tuple[str, str | None]]:
    conn = await asyncpg.connect(database_url)
    try:
        records = await conn.fetch("SELECT id, status, sync_lease_until FROM accounts")
    finally:
        await conn.close()
    return {record["id"]: (record["status"], record["sync_lease_until"]) for record in records}


@pytest.fixture
async def cli_accounts(database_url: str) -> list[str]:
    await store(
        database_url,
        fc_account("fca_cli_1", status="active"),
        fc_account("fca_cli_2", status="active"),
    )
    return ["fca_cli_1", "fca_cli_2"]


def command_env(database_url: str) -> dict[str, str]:
    return {
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": "",
        "STRIPE_WEBHOOK_SECRET": "",
        "DATABASE_URL": database_url,
        "RELINK_AUTH_JWT_SECRET": JWT_SECRET,
        "RELINK_STRIPE_MAX_NETWORK_RETRIES": "0",
    }


@pytest.mark.usefixtures("_restore_logging")
def test_sync_command_prints_its_summary(database_url: str, cli_accounts: list[str]) -> None:
    with respx.mock(base_url=API, assert_all_mocked=True) as stripe:
        broken = stripe.get(f"{ACCOUNTS}/fca_cli_1").respond(
            200, json=fc_account("fca_cli_1", **BROKEN)
        )
        same = stripe.get(f"{ACCOUNTS}/fca_cli_2").respond(
            200, json=fc_account("fca_cli_2", status="active")
        )
        result = CliRunner().invoke(main, ["sync"], env=command_env(database_url))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == [
        "settled 0 relink sessions, 0 payment setups, failed 0",
        "checked 2, changed 1, failed 0",
    ]
    assert (broken.call_count, same.call_count) == (1, 1)
    assert asyncio.run(stored_states(database_url)) == {
        "fca_cli_1": ("inactive", None),
        "fca_cli_2": ("active", None),
    }


@pytest.mark.usefixtures("_restore_logging")
def test_sync_command_exits_1_when_an_account_failed(
    database_url: str, cli_accounts: list[str]
) -> None:
    with respx.mock(base_url=API, assert_all_mocked=True) as stripe:
        stripe.get(f"{ACCOUNTS}/fca_cli_1").respond(200, json=fc_account("fca_cli_1", **BROKEN))
        failing = stripe.get(f"{ACCOUNTS}/fca_cli_2").respond(
            500, json=stripe_error(type="api_error")
        )
        result = CliRunner().invoke(main, ["sync"], env=command_env(database_url))

    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[-1] == "checked 2, changed 1, failed 1"
    assert failing.call_count == 1
    assert asyncio.run(stored_states(database_url)) == {
        "fca_cli_1": ("inactive", None),
        "fca_cli_2": ("active", None),
    }


# --- inside the server ---------------------------------------------------------------------


def scheduled_syncs() -> list[asyncio.Task[Any]]:
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done() and getattr(task.get_coro(), "__name__", None) == "run_periodically"
    ]


async def test_the_server_reconciles_on_its_interval(
    database_url: str, stripe_mock: respx.MockRouter
) -> None:
    settings = make_settings(database_url, sync_interval_seconds=0.2, sync_stale_after_seconds=0)
    await store(database_url, fc_account(status="active"))
    route = stripe_mock.get(ACCOUNT_URL).respond(200, json=fc_account(**BROKEN))
    headers = bearer(settings, "cus_A")

    async with serve(settings) as http:
        assert len(scheduled_syncs()) == 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while True:
            response = await http.get("/v1/accounts/fca_checking", headers=headers)
            assert response.status_code == 200, response.text
            body = response.json()
            if body["status"] == "inactive" or loop.time() > deadline:
                break
            await asyncio.sleep(0.05)

        assert (body["status"], body["link_health"]) == ("inactive", "relink_required")
        assert route.call_count >= 1

    assert scheduled_syncs() == []
    conn = await asyncpg.connect(database_url)
    try:
        sources = await conn.fetch(
            "SELECT source, to_status FROM account_status_history ORDER BY id"
        )
    finally:
        await conn.close()
    assert [tuple(row) for row in sources] == [("webhook", "active"), ("sync", "inactive")]
