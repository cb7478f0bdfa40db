"""SQL for accounts, their history and authorizations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import asyncpg

from relink_api.db import Connection

# Link health is computed by the database function defined in the first migration.
SELECT_ACCOUNTS = """
    SELECT id, customer_id, owner_source, authorization_id, institution_id, institution_name,
           display_name, last4, category, subcategory, status, action, cause,
           expected_deactivation_at, account_number_expires_at, permissions, account_holder,
           state_as_of, inactive_since, needs_payment_method, replaces_account_id,
           replacement_relink_session_id, updated_at,
           relink_link_health(status, action, account_number_expires_at, now()) AS link_health
    FROM accounts
"""


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: str
    customer_id: str | None
    owner_source: str
    authorization_id: str | None
    institution_id: str | None
    institution_name: str | None
    display_name: str | None
    last4: str | None
    category: str | None
    subcategory: str | None
    status: str
    action: str | None
    cause: str | None
    expected_deactivation_at: datetime | None
    account_number_expires_at: datetime | None
    permissions: list[str]
    account_holder: dict[str, Any] | None
    state_as_of: datetime
    inactive_since: datetime | None
    needs_payment_method: bool
    replaces_account_id: str | None
    replacement_relink_session_id: str | None
    updated_at: datetime
    link_health: str

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> AccountRow:
        values = dict(record)
        values["permissions"] = list(values["permissions"] or [])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class AccountState:
    """Everything a Stripe snapshot sets on a stored account, in column order."""

    authorization_id: str | None
    institution_id: str | None
    institution_name: str | None
    display_name: str | None
    last4: str | None
    category: str | None
    subcategory: str | None
    status: str
    action: str | None
    cause: str | None
    expected_deactivation_at: datetime | None
    account_number_expires_at: datetime | None
    permissions: list[str]
    account_holder: dict[str, Any] | None
    snapshot: dict[str, Any]

    def values(self) -> tuple[Any, ...]:
        """Parameters for the columns authorization_id … snapshot, in that order."""
        return tuple(getattr(self, field.name) for field in fields(self))


async def get(conn: Connection, *, account_id: str, for_update: bool = False) -> AccountRow | None:
    query = SELECT_ACCOUNTS + " WHERE id = $1" + (" FOR UPDATE" if for_update else "")
    record = await conn.fetchrow(query, account_id)
    return AccountRow.from_record(record) if record else None


async def get_owned(conn: Connection, *, account_id: str, customer_id: str) -> AccountRow | None:
    record = await conn.fetchrow(
        SELECT_ACCOUNTS + " WHERE id = $1 AND customer_id = $2", account_id, customer_id
    )
    return AccountRow.from_record(record) if record else None


async def list_owned(
    conn: Connection,
    *,
    customer_id: str,
    health: Sequence[str] | None,
    after_id: str | None,
    limit: int,
) -> list[AccountRow]:
    """A page of the customer's accounts in id order, after ``after_id``."""
    records = await conn.fetch(
        SELECT_ACCOUNTS
        + """
        WHERE customer_id = $1
          AND ($2::text[] IS NULL
               OR relink_link_health(status, action, account_number_expires_at, now()) = ANY($2))
          AND ($3::text IS NULL OR id > $3)
        ORDER BY id
        LIMIT $4
        """,
        customer_id,
        list(health) if health is not None else None,
        after_id,
        limit,
    )
    return [AccountRow.from_record(record) for record in records]


async def list_on_authorization(
    conn: Connection, *, authorization_id: str, customer_id: str
) -> list[AccountRow]:
    records = await conn.fetch(
        SELECT_ACCOUNTS + " WHERE authorization_id = $1 AND customer_id = $2 ORDER BY id",
        authorization_id,
        customer_id,
    )
    return [AccountRow.from_record(record) for record in records]


async def ids_on_authorization(conn: Connection, *, authorization_id: str) -> list[str]:
    """Every stored account on the authorization, whoever owns it."""
    records = await conn.fetch(
        "SELECT id FROM accounts WHERE authorization_id = $1 ORDER BY id", authorization_id
    )
    return [record["id"] for record in records]


async def known_ids(
    conn: Connection, *, customer_id: str, account_ids: Sequence[str], stored_before: datetime
) -> set[str]:
    """Which of ``account_ids`` were stored accounts of this customer before that moment."""
    records = await conn.fetch(
        "SELECT id FROM accounts WHERE customer_id = $1 AND id = ANY($2::text[]) "
        "AND created_at < $3",
        customer_id,
        list(account_ids),
        stored_before,
    )
    return {record["id"] for record in records}


async def mark_replacement(
    conn: Connection,
    *,
    account_id: str,
    customer_id: str,
    replaces_account_id: str,
    relink_session_id: str,
) -> None:
    """Flag an account linked in place of another: it needs a new payment method, set up
    through that relink session."""
    await conn.execute(
        "UPDATE accounts SET needs_payment_method = true, replaces_account_id = $3, "
        "replacement_relink_session_id = $4, updated_at = now() "
        "WHERE id = $1 AND customer_id = $2",
        account_id,
        customer_id,
        replaces_account_id,
        relink_session_id,
    )


async def customer_has_authorization(
    conn: Connection, *, authorization_id: str, customer_id: str
) -> bool:
    found = await conn.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM accounts WHERE authorization_id = $1 AND customer_id = $2)
            OR EXISTS (SELECT 1 FROM authorizations WHERE id = $1 AND customer_id = $2)
        """,
        authorization_id,
        customer_id,
    )
    return bool(found)


async def insert(
    conn: Connection,
    *,
    account_id: str,
    customer_id: str | None,
    owner_source: str,
    state: AccountState,
    state_as_of: datetime,
    inactive_since: datetime | None,
    needs_payment_method: bool = False,
    replaces_account_id: str | None = None,
    confirmed: bool = False,
) -> AccountRow | None:
    """Insert a new account; ``None`` when another transaction inserted it first."""
    record = await conn.fetchrow(
        """
        INSERT INTO accounts (
            id, customer_id, owner_source, authorization_id, institution_id, institution_name,
            display_name, last4, category, subcategory, status, action, cause,
            expected_deactivation_at, account_number_expires_at, permissions, account_holder,
            snapshot, state_as_of, inactive_since, needs_payment_method, replaces_account_id,
            confirmed_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                $18, $19, $20, $21, $22, CASE WHEN $23 THEN now() END)
        ON CONFLICT (id) DO NOTHING
        RETURNING id
        """,
        account_id,
        customer_id,
        owner_source,
        *state.values(),
        state_as_of,
        inactive_since,
        needs_payment_method,
        replaces_account_id,
        confirmed,
    )
    if record is None:
        return None
    return await get(conn, account_id=account_id)


async def update_state(
    conn: Connection,
    *,
    account_id: str,
    customer_id: str | None,
    state: AccountState,
    state_as_of: datetime,
    inactive_since: datetime | None,
    confirmed: bool = False,
) -> AccountRow:
    await conn.execute(
        """
        UPDATE accounts SET
            customer_id = $2, authorization_id = $3, institution_id = $4, institution_name = $5,
            display_name = $6, last4 = $7, category = $8, subcategory = $9, status = $10,
            action = $11, cause = $12, expected_deactivation_at = $13,
            account_number_expires_at = $14, permissions = $15, account_holder = $16,
            snapshot = $17, state_as_of = GREATEST(state_as_of, $18), inactive_since = $19,
            confirmed_at = CASE WHEN $20 THEN now() ELSE confirmed_at END,
            sync_lease_until = CASE WHEN $20 THEN NULL ELSE sync_lease_until END,
            updated_at = now()
        WHERE id = $1
        """,
        account_id,
        customer_id,
        *state.values(),
        state_as_of,
        inactive_since,
        confirmed,
    )
    row = await get(conn, account_id=account_id)
    assert row is not None
    return row


async def assign_owner(conn: Connection, *, account_id: str, customer_id: str) -> None:
    await conn.execute(
        "UPDATE accounts SET customer_id = $2, owner_source = 'operator', updated_at = now() "
        "WHERE id = $1",
        account_id,
        customer_id,
    )


async def insert_history(
    conn: Connection,
    *,
    account_id: str,
    before: AccountRow | None,
    after: AccountRow,
    source: str,
    event_id: str | None = None,
    relink_session_id: str | None = None,
) -> None:
    await conn.execute(
        """
        INSERT INTO account_status_history (
            account_id, from_status, to_status, from_health, to_health, action, cause,
            source, event_id, relink_session_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        """,
        account_id,
        before.status if before else None,
        after.status,
        before.link_health if before else None,
        after.link_health,
        after.action,
        after.cause,
        source,
        event_id,
        relink_session_id,
    )


async def upsert_authorization(
    conn: Connection,
    *,
    authorization_id: str,
    customer_id: str | None,
    institution_id: str | None,
    institution_name: str | None,
    status: str,
    action: str | None,
    expected_deactivation_at: datetime | None,
    snapshot: dict[str, Any] | None,
    state_as_of: datetime,
) -> None:
    """Record what Stripe says of an authorization, unless newer state is already stored."""
    await conn.execute(
        """
        INSERT INTO authorizations (
            id, customer_id, institution_id, institution_name, status, action,
            expected_deactivation_at, snapshot, state_as_of)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (id) DO UPDATE SET
            customer_id = COALESCE(EXCLUDED.customer_id, authorizations.customer_id),
            institution_id = COALESCE(EXCLUDED.institution_id, authorizations.institution_id),
            institution_name = COALESCE(EXCLUDED.institution_name, authorizations.institution_name),
            status = EXCLUDED.status,
            action = EXCLUDED.action,
            expected_deactivation_at = EXCLUDED.expected_deactivation_at,
            snapshot = COALESCE(EXCLUDED.snapshot, authorizations.snapshot),
            state_as_of = EXCLUDED.state_as_of,
            updated_at = now()
        WHERE authorizations.state_as_of IS NULL
           OR authorizations.state_as_of <= EXCLUDED.state_as_of
        """,
        authorization_id,
        customer_id,
        institution_id,
        institution_name,
        status,
        action,
        expected_deactivation_at,
        snapshot,
        state_as_of,
    )


async def history(conn: Connection, *, account_id: str) -> list[dict[str, Any]]:
    records = await conn.fetch(
        """
        SELECT from_status, to_status, from_health, to_health, action, cause, source,
               event_id, relink_session_id, at
        FROM account_status_history WHERE account_id = $1 ORDER BY id
        """,
        account_id,
    )
    return [dict(record) for record in records]


async def payment_method_set_up(conn: Connection, *, account_id: str) -> None:
    """The account's replacement payment method exists: it no longer needs one."""
    await conn.execute(
        "UPDATE accounts SET needs_payment_method = false, updated_at = now() "
        "WHERE id = $1 AND needs_payment_method",
        account_id,
    )
