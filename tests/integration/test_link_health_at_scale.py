"""Link health at a million accounts (migration 0013): the operator's health filters and
counts read the accounts they need through indexes, never every account, and the counts
kept by triggers equal a full recount after every kind of write, as time passes."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from relink_api.accounts import counts, listing
from relink_api.accounts.models import AccountFilter, HealthCauseCount
from relink_api.accounts.schemas import LinkHealth
from relink_api.admin.schemas import AdminAccountRead
from relink_api.db import Connection, Database

NOW = datetime.now(UTC)

# Enough rows that the planner prefers an index to a scan when one fits, in a mix where
# ok links are the rule and every other health is rare.
FILL = """
INSERT INTO accounts (id, customer_id, owner_source, status, action, cause,
                      account_number_expires_at, expected_deactivation_at, snapshot, state_as_of)
SELECT 'fca_' || lpad(n::text, 6, '0'), 'cus_' || (n % 800), 'account_holder',
       CASE WHEN n % 200 IN (1, 2) THEN 'inactive' WHEN n % 200 = 3 THEN 'disconnected'
            ELSE 'active' END,
       CASE WHEN n % 200 = 1 THEN 'relink_required' WHEN n % 200 = 2 THEN 'none'
            WHEN n % 200 = 4 THEN 'relink_required' END,
       CASE WHEN n % 200 IN (1, 2, 4) THEN 'access_expired' END,
       CASE WHEN n % 3 = 0 THEN now() + (n % 3000) * interval '1 day' END,
       CASE WHEN n % 200 = 4 THEN now() + (n % 40) * interval '1 day' END,
       '{}', now()
FROM generate_series(1, $1::integer) AS n
"""


class Explaining:
    """A connection that plans each query instead of running it, keeping the plans."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.plans: list[dict[str, Any]] = []

    async def fetch(self, query: str, *args: Any, **_: Any) -> list[Any]:
        plan = await self.conn.fetchval("EXPLAIN (FORMAT JSON) " + query, *args)
        # The pool decodes JSON itself; a bare connection hands back the text.
        self.plans.append((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])
        return []


def _account_scans(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = [node] if node.get("Relation Name") == "accounts" else []
    if node.get("Node Type") == "Bitmap Index Scan" and node["Index Name"].startswith("accounts"):
        found.append(node)
    for child in node.get("Plans", []):
        found += _account_scans(child)
    return found


def assert_reads_ranges_of_indexes(plan: dict[str, Any]) -> None:
    """Every read of accounts is a range of an index (an Index Cond), none the whole table
    or a whole index filtered row by row."""
    scans = _account_scans(plan)
    assert scans, plan
    for scan in scans:
        kind = scan["Node Type"]
        assert kind != "Seq Scan", plan
        if kind in ("Index Scan", "Index Only Scan", "Bitmap Index Scan"):
            assert "Index Cond" in scan, plan


async def test_health_filters_and_counts_read_only_the_accounts_they_need(db: Database) -> None:
    async with db.connection() as conn:
        await conn.execute(FILL, 10_000)
        await conn.execute("ANALYZE accounts")
        explaining = Explaining(conn)
        # The operator's filters by a rare health (one with no account at all, too).
        rare = (LinkHealth.relink_required, LinkHealth.unrepairable, LinkHealth.unknown)
        for health in (*rare, LinkHealth.expiring):
            await listing.list_page(
                explaining,  # type: ignore[arg-type]
                model=AdminAccountRead,
                matching=AccountFilter(customer_id=None, health=(health,), institution_id=None),
                after_id=None,
                limit=101,
            )
        # The summary's counts.
        await counts.by_health_and_cause(explaining, at=NOW)  # type: ignore[arg-type]
        await counts.deactivations_by_week(explaining, at=NOW, weeks=8)  # type: ignore[arg-type]
    assert len(explaining.plans) == 6
    for plan in explaining.plans:
        assert_reads_ranges_of_indexes(plan)


async def _recount(conn: Connection, at: datetime) -> list[tuple[str, str, int]]:
    records = await conn.fetch(
        "SELECT relink_link_health(status, action, account_number_expires_at, $1) AS health, "
        "cause, count(*) AS count FROM accounts GROUP BY 1, 2",
        at,
    )
    return sorted((r["health"], r["cause"] or "", r["count"]) for r in records)


def _sorted(groups: list[HealthCauseCount]) -> list[tuple[str, str, int]]:
    return sorted((group.health.value, group.cause or "", group.count) for group in groups)


async def _assert_counts_exact(conn: Connection) -> None:
    # Now, and later: an account becomes expiring with no write, by the clock alone.
    for at in (NOW, NOW + timedelta(days=400), NOW + timedelta(days=4000)):
        assert _sorted(await counts.by_health_and_cause(conn, at=at)) == await _recount(conn, at)


async def test_the_counts_equal_a_recount_after_every_kind_of_write(db: Database) -> None:
    async with db.connection() as conn:
        await _assert_counts_exact(conn)
        await conn.execute(FILL, 600)  # an INSERT of many rows
        await _assert_counts_exact(conn)
        row = "fca_copy{},account_holder,inactive,none,closed,{{}},{}\n"
        copied = "".join(row.format(n, NOW) for n in range(50))
        await conn.copy_to_table(
            "accounts",
            source=io.BytesIO(copied.encode()),
            columns=["id", "owner_source", "status", "action", "cause", "snapshot", "state_as_of"],
            format="csv",
        )
        await _assert_counts_exact(conn)
        writes = [
            # A link breaks, one is repaired, a cause changes, a warning comes.
            "UPDATE accounts SET status = 'inactive', action = 'relink_required' "
            "WHERE id LIKE 'fca_0000%'",
            "UPDATE accounts SET status = 'active', action = NULL WHERE id LIKE 'fca_00010%'",
            "UPDATE accounts SET cause = 'institution_down' WHERE id LIKE 'fca_00020%'",
            "UPDATE accounts SET action = 'relink_required' WHERE id LIKE 'fca_00030%'",
            # Nothing counted changes: no change recorded, the counts still exact.
            "UPDATE accounts SET display_name = 'Checking', updated_at = now()",
            # A status this version does not know, and one it does again.
            "UPDATE accounts SET status = 'paused' WHERE id LIKE 'fca_00040%'",
            "INSERT INTO accounts (id, owner_source, status, snapshot, state_as_of) "
            "VALUES ('fca_000001', 'account_holder', 'active', '{}', now()) "
            "ON CONFLICT (id) DO NOTHING",
            "INSERT INTO accounts (id, owner_source, status, snapshot, state_as_of) "
            "VALUES ('fca_000001', 'account_holder', 'disconnected', '{}', now()) "
            "ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status",
            "DELETE FROM accounts WHERE id LIKE 'fca_copy1%'",
            "SELECT relink_fold_account_counts()",
        ]
        for write in writes:
            await conn.execute(write)
            await _assert_counts_exact(conn)
        folded = await conn.fetchval(
            "SELECT count(*) = count(DISTINCT (reported_health, cause)) FROM account_counts"
        )
        assert folded
        # A write that rolls back leaves the counts as they were.
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("UPDATE accounts SET status = 'disconnected'")
        await transaction.rollback()
        await _assert_counts_exact(conn)
        await conn.execute("TRUNCATE accounts CASCADE")
        await _assert_counts_exact(conn)
        assert await counts.by_health_and_cause(conn, at=NOW) == []
