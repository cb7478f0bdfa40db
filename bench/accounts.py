"""Accounts for the benchmark: Stripe's ``financial_connections.account`` shape, and the
same accounts bulk-loaded into relink-api's ``accounts`` table with COPY (as an import of
many would leave them, without a webhook or a Stripe read each)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import asyncpg

# The columns an account's state fills (relink-api's accounts table, migrations 0001-0002);
# the others keep their defaults.
COLUMNS = (
    "id",
    "customer_id",
    "owner_source",
    "authorization_id",
    "institution_id",
    "institution_name",
    "display_name",
    "last4",
    "category",
    "subcategory",
    "status",
    "action",
    "cause",
    "permissions",
    "account_holder",
    "snapshot",
    "state_as_of",
    "inactive_since",
    "confirmed_at",
)


def fc_account(
    account_id: str,
    *,
    customer: str,
    authorization: str,
    status: str = "active",
    action: str | None = None,
    cause: str | None = None,
) -> dict[str, Any]:
    """An account as Stripe sends it at the pinned preview API version (with
    ``status_details`` and ``authorization``, so relink-api applies it without a re-read)."""
    status_details: dict[str, Any] | None = None
    if status == "inactive":
        status_details = {"inactive": {"action": action or "relink_required", "cause": cause}}
    return {
        "id": account_id,
        "object": "financial_connections.account",
        "livemode": False,
        "created": 1_700_000_000,
        "account_holder": {"type": "customer", "customer": customer, "customer_account": None},
        "authorization": authorization,
        "institution": "fcinst_benchbank",
        "institution_name": "Bench Bank",
        "display_name": "Everyday Checking",
        "last4": account_id[-4:],
        "category": "cash",
        "subcategory": "checking",
        "permissions": ["payment_method"],
        "subscriptions": [],
        "supported_payment_method_types": ["us_bank_account", "link"],
        "status": status,
        "status_details": status_details,
        "account_numbers": None,
        "balance": None,
        "balance_refresh": None,
        "ownership": None,
        "ownership_refresh": None,
        "transaction_refresh": None,
        "inferred_balances_refresh": None,
    }


def account_row(account: dict[str, Any], at: datetime) -> tuple[Any, ...]:
    """``account`` as a row of ``COLUMNS``, stored as of ``at``."""
    holder = account["account_holder"]
    details = account["status_details"] or {}
    state = details.get(account["status"]) or {}
    return (
        account["id"],
        holder["customer"],
        "account_holder",
        account["authorization"],
        account["institution"],
        account["institution_name"],
        account["display_name"],
        account["last4"],
        account["category"],
        account["subcategory"],
        account["status"],
        state.get("action"),
        state.get("cause"),
        account["permissions"],
        json.dumps(holder),
        json.dumps(account),
        at,
        at if account["status"] == "inactive" else None,
        at,
    )


async def bulk_load(dsn: str, accounts: list[dict[str, Any]]) -> None:
    """COPY ``accounts`` into relink-api's database (its migrations must have run)."""
    at = datetime.now(UTC).replace(microsecond=0)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "accounts", records=[account_row(a, at) for a in accounts], columns=COLUMNS
        )
    finally:
        await conn.close()
