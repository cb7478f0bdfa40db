"""Figure 4, growth: the accounts table bulk-loaded to 10 k, 100 k and 1 M accounts, and at
each size figures 1 and 2 against the bare app, and the operator's reads (a health filter
with matches and with none, the summary) at one connection: the latency an operator sees.

The accounts are spread over many customers (25 each on average) and a thousand
institutions, with the link health a real book has: a few percent of institutions are
having trouble (many of their links broken or warned about), the others break rarely, and
some accounts hold a tokenized account number that expires within two years (the clock
makes those ``expiring`` in their last 30 days)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench import figures, wrk
from bench.accounts import COLUMNS, account_row, fc_account
from bench.processes import Service, free_port, start
from bench.results import Comparison, Measure
from bench.rig import BIN, Rig, Seeded

SIZES = (10_000, 100_000, 1_000_000)
ACCOUNTS_PER_CUSTOMER = 25
INSTITUTIONS = 1000
TROUBLED_INSTITUTIONS = 0.03
CHUNK = 50_000
ADMIN_KEY = "rk_admin_" + "B" * 43  # the bench's own operator key

# (relink_required, expiring by Stripe's warning, unrepairable, disconnected) chances.
TROUBLED = (0.30, 0.10, 0.05, 0.01)
HEALTHY = (0.01, 0.005, 0.001, 0.001)
TOKENIZED = 0.3  # accounts with a tokenized number, expiring within two years

# The operator's reads. `unknown` is a health no loaded account has: a filter with no
# match, which must not read every account to find that out.
ADMIN_READS = {
    "relink_required": "/v1/admin/accounts?health=relink_required",
    "unrepairable": "/v1/admin/accounts?health=unrepairable",
    "no match": "/v1/admin/accounts?health=unknown",
    "summary": "/v1/admin/summary",
}


def _account(n: int, rng: random.Random, now: datetime) -> tuple[Any, ...]:
    institution = rng.randrange(INSTITUTIONS)
    chances = TROUBLED if institution < INSTITUTIONS * TROUBLED_INSTITUTIONS else HEALTHY
    roll = rng.random()
    status, action, cause, warned = "active", None, None, False
    if roll < chances[0]:
        status, action, cause = "inactive", "relink_required", "access_expired"
    elif roll < sum(chances[:2]):
        action, cause, warned = "relink_required", "institution_migrating", True
    elif roll < sum(chances[:3]):
        status, action, cause = "inactive", "none", "account_closed"
    elif roll < sum(chances):
        status = "disconnected"
    account = fc_account(
        f"fca_g{n:07d}",
        customer=f"cus_g{n // ACCOUNTS_PER_CUSTOMER:06d}",
        authorization=f"fcauth_g{n // 2:07d}",
        status=status,
        action=action,
        cause=cause,
    )
    account["institution"] = f"fcinst_g{institution:04d}"
    if status == "active" and action:
        account["status_details"] = {"active": {"action": action, "cause": cause}}
    expected = now + timedelta(days=rng.uniform(1, 60)) if warned else None
    number_expiry = None
    if rng.random() < TOKENIZED:
        number_expiry = now + timedelta(days=rng.uniform(1, 730))
    return (*account_row(account, now), expected, number_expiry)


def accounts(start_at: int, stop: int, now: datetime) -> Iterator[list[tuple[Any, ...]]]:
    """Accounts ``start_at`` to ``stop`` as rows of ``COLUMNS`` and the two expiry dates,
    in chunks (the same accounts for the same numbers, run after run)."""
    rng = random.Random(start_at)
    for first in range(start_at, stop, CHUNK):
        yield [_account(n, rng, now) for n in range(first, min(stop, first + CHUNK))]


async def grow(dsn: str, start_at: int, stop: int) -> float:
    """Bulk-load accounts ``start_at`` to ``stop`` as a bulk import would: the secondary
    indexes dropped, COPY, the indexes built again, VACUUM ANALYZE; the seconds it took."""
    began = time.monotonic()
    now = datetime.now(UTC).replace(microsecond=0)
    conn = await asyncpg.connect(dsn)
    try:
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'accounts' "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        columns = (*COLUMNS, "expected_deactivation_at", "account_number_expires_at")
        for rows in accounts(start_at, stop, now):
            await conn.copy_records_to_table("accounts", records=rows, columns=columns)
        await conn.execute("SET maintenance_work_mem = '256MB'")
        for index in indexes:
            await conn.execute(index["indexdef"])
        await conn.execute("VACUUM ANALYZE accounts")
    finally:
        await conn.close()
    return time.monotonic() - began


def start_server(rig: Rig, data: Path) -> Service:
    """relink-api as the rig starts it, with an operator key and reminders off."""
    from relink_api.auth import admin_key_digest

    port = free_port()
    env = rig.server_env(data, port) | {
        "RELINK_ADMIN_API_KEY_SHA256": admin_key_digest(ADMIN_KEY),
        # Reminders off: a bulk load makes thousands of accounts expiring at once, and
        # announcing them would run beside the measurement (a book that grew to a million
        # announced each as it came).
        "RELINK_REMINDER_INTERVAL_SECONDS": "0",
    }
    argv = [str(BIN / "relink-api"), "serve"]
    return start("relink-api-growth", argv, port=port, logs=rig.logs, env=env)


def operator_reads(server: Service, options: figures.Options) -> dict[str, list[wrk.Run]]:
    """Each operator read at one connection, its rounds taken in turn with the others."""
    load = replace(options.load(1), headers=(f"X-Admin-Key: {ADMIN_KEY}",))
    targets = {
        name: figures._against(server.base + path, load) for name, path in ADMIN_READS.items()
    }
    return figures.alternate(targets, options)


def measure(
    dsn: str, rig: Rig, data: Path, bare: Service, seeded: Seeded, options: figures.Options
) -> tuple[list[Comparison], list[Measure]]:
    """Grow the table through ``SIZES``; at each, figures 1 and 2 and the operator's reads."""
    server = start_server(rig, data)
    comparisons: list[Comparison] = []
    measures: list[Measure] = []
    try:
        server.wait_ready("/readyz")
        loaded = 0
        for size in SIZES:
            seconds = asyncio.run(grow(dsn, loaded, size))
            loaded = size
            label = f"{size // 1000:,} k" if size < 1_000_000 else f"{size // 1_000_000} M"
            measures.append(Measure(f"4. bulk load to {label} accounts", "s", "", [seconds]))
            (hooks,), _ = figures.webhooks(rig, server, bare, None, options)
            (listed,) = figures.account_list(server, bare, None, seeded, options)
            for comparison in (hooks, listed):
                comparison.figure = f"4. at {label}: {comparison.figure}"
                comparisons.append(comparison)
            for name, runs in operator_reads(server, options).items():
                read = Comparison(
                    f"4. at {label}: operator {name}, 1 connection", "-", "p99 < 50 ms"
                )
                read.subject_runs = runs
                comparisons.append(read)
    finally:
        server.stop()
    return comparisons, measures
