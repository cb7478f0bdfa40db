"""Link health is computed by one SQL function (the first migration) that the planner
inlines into each query, rather than calling it row by row."""

from __future__ import annotations

from relink_api.db import Database


async def test_link_health_is_inlined_not_called_row_by_row(db: Database) -> None:
    async with db.connection() as conn:
        records = await conn.fetch(
            "EXPLAIN (VERBOSE) SELECT "
            "relink_link_health(status, action, account_number_expires_at, now()) "
            "FROM accounts WHERE customer_id = 'cus_A'"
        )
    plan = "\n".join(record[0] for record in records)

    assert "relink_link_health" not in plan
    assert "CASE WHEN" in plan
