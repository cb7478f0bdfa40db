"""The prioritised sweep: accounts needing attention (broken, Stripe-warned, numbers
expiring, a relink in progress) are re-read before healthy ones, healthy ones on a slower
cycle; and each class is leased from its own index, in its order, never by sorting the
table."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
import respx
from click.testing import CliRunner

from relink_api.accounts import leases
from relink_api.cli.main import main
from relink_api.db import Connection, Database
from relink_api.gateway.client import StripeGateway
from relink_api.reconcile.service import sync_accounts
from relink_api.settings import Settings
from tests.conftest import JWT_SECRET, Seed
from tests.factories import API, fc_account

ACCOUNTS = "/v1/financial_connections/accounts"
SECRET_KEY = "sk_test_relink123"
NEEDING_ATTENTION = ["fca_broken", "fca_warned", "fca_numbers", "fca_relinking"]


async def confirm(conn: Connection, account_id: str, hours: float) -> None:
    await conn.execute(
        "UPDATE accounts SET confirmed_at = now() - make_interval(secs => $2) WHERE id = $1",
        account_id,
        hours * 3600,
    )


async def seed_classes(db: Database, seed: Seed) -> None:
    """A healthy account confirmed 100 hours ago, and one of each class needing attention
    confirmed 7 hours ago."""
    await seed("fca_healthy", status="active")
    await seed("fca_broken", status="inactive", action="relink_required", cause="access_expired")
    await seed("fca_warned", status="active", action="relink_required")
    await seed("fca_numbers", status="active")
    await seed("fca_relinking", status="active")
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE accounts SET account_number_expires_at = now() + interval '10 days' "
            "WHERE id = 'fca_numbers'"
        )
        await conn.execute(
            "INSERT INTO relink_sessions (id, stripe_session_id, customer_id, scope, "
            "authorization_id, account_id, permissions) VALUES ('rls_1', 'fcsess_1', 'cus_A', "
            "'account', 'fcauth_1', 'fca_relinking', '{payment_method}')"
        )
        await confirm(conn, "fca_healthy", 100)
        for account_id in NEEDING_ATTENTION:
            await confirm(conn, account_id, 7)


def reading_in_order(stripe_mock: respx.MockRouter) -> list[str]:
    reads: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        account_id = request.url.path.rsplit("/", 1)[-1]
        reads.append(account_id)
        status = "inactive" if account_id == "fca_broken" else "active"
        return httpx.Response(200, json=fc_account(account_id, status=status))

    stripe_mock.get(path__regex=rf"^{ACCOUNTS}/fca_\w+$").mock(side_effect=answer)
    return reads


async def test_accounts_needing_attention_are_read_before_an_older_healthy_one(
    db: Database, settings: Settings, seed: Seed, stripe_mock: respx.MockRouter
) -> None:
    await seed_classes(db, seed)
    reads = reading_in_order(stripe_mock)
    gateway = StripeGateway(settings, api_key=SECRET_KEY)
    try:
        # One age for every account (as `sync --stale-after` gives): all five are due.
        summary = await sync_accounts(
            db, gateway.paced(1000), stale_after=timedelta(hours=6), concurrency=1
        )
    finally:
        await gateway.aclose()

    assert summary.checked == 5
    assert reads == [*NEEDING_ATTENTION, "fca_healthy"]


async def test_a_lease_takes_the_classes_in_order(db: Database, seed: Seed) -> None:
    await seed_classes(db, seed)
    now = datetime.now(UTC)
    due = leases.Due(now - timedelta(hours=6), now - timedelta(hours=6))
    async with db.transaction() as conn:
        first = await leases.claim_due(conn, due, lease_until=now + timedelta(minutes=5), limit=2)
        rest = await leases.claim_due(conn, due, lease_until=now + timedelta(minutes=5), limit=9)

    assert (first, rest) == (NEEDING_ATTENTION[:2], [*NEEDING_ATTENTION[2:], "fca_healthy"])


@pytest.mark.usefixtures("_restore_logging")
def test_a_healthy_account_confirmed_within_the_slower_cycle_is_not_due(
    database_url: str, settings: Settings
) -> None:
    async def prepare() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            for account_id, status in (("fca_fine", "active"), ("fca_down", "inactive")):
                raw = fc_account(account_id, status=status)
                await conn.execute(
                    "INSERT INTO accounts (id, customer_id, owner_source, status, action, "
                    "snapshot, state_as_of, confirmed_at) VALUES ($1, 'cus_A', "
                    "'account_holder', $2, $3, $4::jsonb, now(), now() - interval '7 hours')",
                    account_id,
                    status,
                    "relink_required" if status == "inactive" else None,
                    json.dumps(raw),
                )
        finally:
            await conn.close()

    asyncio.run(prepare())
    assert settings.sync_stale_after_seconds == 6 * 3600
    assert settings.sync_healthy_stale_after_seconds == 3 * 86400
    env = {
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": "",
        "STRIPE_WEBHOOK_SECRET": "",
        "DATABASE_URL": database_url,
        "RELINK_AUTH_JWT_SECRET": JWT_SECRET,
        "RELINK_STRIPE_MAX_NETWORK_RETRIES": "0",
    }
    with respx.mock(base_url=API, assert_all_mocked=True) as stripe:
        down = stripe.get(f"{ACCOUNTS}/fca_down").respond(
            200, json=fc_account("fca_down", status="inactive")
        )
        fine = stripe.get(f"{ACCOUNTS}/fca_fine").respond(200, json=fc_account("fca_fine"))
        result = CliRunner().invoke(main, ["sync"], env=env)
        # Given an age, the command re-reads every account older than it, healthy or not.
        everyone = CliRunner().invoke(main, ["sync", "--stale-after", "0"], env=env)

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "checked 1, changed 0, failed 0"
    assert everyone.exit_code == 0, everyone.output
    assert everyone.stdout.splitlines()[-1] == "checked 2, changed 0, failed 0"
    assert (down.call_count, fine.call_count) == (2, 1)


@pytest.mark.parametrize(
    ("place", "index", "sorted_by_index"),
    [
        (0, "accounts_sync_attention_idx", True),
        (1, "accounts_sync_number_expiry_idx", False),  # ties on the expiry, by id
        (2, "relink_sessions_open_idx", False),  # the few accounts relinking, by age
        (3, "accounts_sync_due_idx", True),
    ],
)
async def test_each_class_is_leased_from_its_index_without_sorting_the_table(
    db: Database, place: int, index: str, sorted_by_index: bool
) -> None:
    where, _ = leases._CLASSES[place]
    async with db.connection() as conn, conn.transaction():
        # As the planner chooses at a million rows, not for this nearly empty table: an
        # index scan wherever one serves, and a sort only where no index gives the order.
        for method in ("seqscan", "bitmapscan", "sort"):
            await conn.execute(f"SET LOCAL enable_{method} = off")
        records = await conn.fetch(
            f"EXPLAIN SELECT id FROM accounts WHERE {leases._FREE} AND {where} LIMIT $4 "
            "FOR UPDATE SKIP LOCKED",
            [],
            None,
            datetime.now(UTC),
            50,
        )
    plan = "\n".join(record[0] for record in records)

    assert index in plan, plan
    assert "Seq Scan on accounts" not in plan, plan
    if sorted_by_index:
        assert "Sort" not in plan, plan
