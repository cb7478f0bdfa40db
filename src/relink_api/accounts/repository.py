"""SQL for accounts, their history and authorizations. Private to the accounts package:
other features reach these tables through ``accounts.service`` and ``accounts.state``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from relink_api.accounts import health_conditions
from relink_api.accounts.models import (
    AccountRow,
    AccountState,
    OwnerSource,
    Replacement,
    Source,
)
from relink_api.db import Connection

# What a stored snapshot does to the account's last confirmation (``confirmed_at``, the
# time sync last read it): a read from Stripe sets it, a notice leaves it ``unchanged``, and
# a snapshot relink-api cannot interpret makes the account ``due``: first in line for sync.
Confirmation = Literal["confirmed", "unchanged", "due"]


# Link health is computed by the database function defined in the first migration, so a
# customer's and an operator's view of an account can never disagree.
def _health(at: str) -> str:
    """An account's link health as of ``at`` (an SQL expression)."""
    return f"relink_link_health(status, action, account_number_expires_at, {at})"


def _columns(at: str) -> str:
    """An ``AccountRow``'s columns, its health as of ``at``; writes return them: no re-read."""
    return f"""
           id, customer_id, owner_source, authorization_id, institution_id, institution_name,
           display_name, last4, category, subcategory, status, action, cause,
           expected_deactivation_at, account_number_expires_at, permissions, account_holder,
           state_as_of, inactive_since, needs_payment_method, replaces_account_id,
           replacement_relink_session_id, updated_at,
           {_health(at)} AS link_health
"""


def _select(at: str) -> str:
    return f"SELECT {_columns(at)} FROM accounts"


HEALTH_NOW = _health("now()")
"""An account's link health as of the database's now (an SQL expression)."""
_SELECT = _select("now()")
_RETURNING = "RETURNING " + _columns("now()")


async def get(
    conn: Connection, *, account_id: str, for_update: bool = False, at: datetime | None = None
) -> AccountRow | None:
    """The account, its link health as of ``at`` (the database's now by default)."""
    query = (_SELECT if at is None else _select("$2")) + " WHERE id = $1"
    query += " FOR UPDATE" if for_update else ""
    args = (account_id,) if at is None else (account_id, at)
    record = await conn.fetchrow(query, *args)
    return AccountRow.from_record(record) if record else None


async def expiring_by_number(
    conn: Connection, *, at: datetime, after_id: str | None, limit: int
) -> list[AccountRow]:
    """Accounts expiring at ``at`` because a tokenized account number nears its expiry
    (Stripe sends no warning for that: time alone makes them expiring), in id order."""
    records = await conn.fetch(
        _select("$1")
        + f"""
        WHERE {health_conditions.expiring_by_number("$1")}
          AND ($2::text IS NULL OR id > $2)
        ORDER BY id
        LIMIT $3
        """,
        at,
        after_id,
        limit,
    )
    return [AccountRow.from_record(record) for record in records]


async def get_owned(conn: Connection, *, account_id: str, customer_id: str) -> AccountRow | None:
    record = await conn.fetchrow(
        _SELECT + " WHERE id = $1 AND customer_id = $2", account_id, customer_id
    )
    return AccountRow.from_record(record) if record else None


async def list_on_authorization(
    conn: Connection, *, authorization_id: str, customer_id: str
) -> list[AccountRow]:
    records = await conn.fetch(
        _SELECT + " WHERE authorization_id = $1 AND customer_id = $2 ORDER BY id",
        authorization_id,
        customer_id,
    )
    return [AccountRow.from_record(record) for record in records]


async def owned_with_siblings(
    conn: Connection, *, account_id: str, customer_id: str
) -> list[AccountRow]:
    """The customer's account and the customer's accounts on its authorization, by id."""
    records = await conn.fetch(
        _SELECT
        + """ WHERE customer_id = $2 AND (id = $1 OR authorization_id = (
            SELECT authorization_id FROM accounts WHERE id = $1 AND customer_id = $2))
        ORDER BY id""",
        account_id,
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


def _replacement_values(replacement: Replacement | None) -> tuple[bool, str | None, str | None]:
    if replacement is None:
        return False, None, None
    return True, replacement.replaces_account_id, replacement.relink_session_id


async def insert(
    conn: Connection,
    *,
    account_id: str,
    customer_id: str | None,
    owner_source: OwnerSource,
    state: AccountState,
    state_as_of: datetime,
    inactive_since: datetime | None,
    replacement: Replacement | None,
    confirmation: Confirmation,
) -> AccountRow | None:
    """Insert a new account; ``None`` when another transaction inserted it first."""
    record = await conn.fetchrow(
        """
        INSERT INTO accounts (
            id, customer_id, owner_source, authorization_id, institution_id, institution_name,
            display_name, last4, category, subcategory, status, action, cause,
            expected_deactivation_at, account_number_expires_at, permissions, account_holder,
            snapshot, state_as_of, inactive_since, needs_payment_method, replaces_account_id,
            replacement_relink_session_id, confirmed_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                $18, $19, $20, $21, $22, $23, CASE WHEN $24::text = 'confirmed' THEN now() END)
        ON CONFLICT (id) DO NOTHING
        """
        + _RETURNING,
        account_id,
        customer_id,
        owner_source,
        *state.values(),
        state_as_of,
        inactive_since,
        *_replacement_values(replacement),
        confirmation,
    )
    return AccountRow.from_record(record) if record else None


async def update_state(
    conn: Connection,
    *,
    account_id: str,
    customer_id: str | None,
    state: AccountState,
    state_as_of: datetime,
    inactive_since: datetime | None,
    replacement: Replacement | None,
    confirmation: Confirmation,
) -> AccountRow:
    """Store a snapshot over the account, and its replacement marks if it has them."""
    record = await conn.fetchrow(
        """
        UPDATE accounts SET
            customer_id = $2, authorization_id = $3, institution_id = $4, institution_name = $5,
            display_name = $6, last4 = $7, category = $8, subcategory = $9, status = $10,
            action = $11, cause = $12, expected_deactivation_at = $13,
            account_number_expires_at = $14, permissions = $15, account_holder = $16,
            snapshot = $17, state_as_of = GREATEST(state_as_of, $18), inactive_since = $19,
            needs_payment_method = needs_payment_method OR $20,
            replaces_account_id = COALESCE($21, replaces_account_id),
            replacement_relink_session_id = COALESCE($22, replacement_relink_session_id),
            confirmed_at = CASE $23::text WHEN 'confirmed' THEN now() WHEN 'due' THEN NULL
                           ELSE confirmed_at END,
            sync_lease_until = CASE WHEN $23::text = 'confirmed' THEN NULL
                               ELSE sync_lease_until END,
            updated_at = now()
        WHERE id = $1
        """
        + _RETURNING,
        account_id,
        customer_id,
        *state.values(),
        state_as_of,
        inactive_since,
        *_replacement_values(replacement),
        confirmation,
    )
    assert record is not None  # its caller holds the row locked
    return AccountRow.from_record(record)


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
    before: AccountRow | None,
    after: AccountRow,
    source: Source,
    event_id: str | None,
    relink_session_id: str | None,
) -> None:
    await conn.execute(
        """
        INSERT INTO account_status_history (
            account_id, from_status, to_status, from_health, to_health, action, cause,
            source, event_id, relink_session_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        """,
        after.id,
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


async def payment_method_set_up(conn: Connection, *, account_id: str) -> None:
    """The account's replacement payment method exists: it no longer needs one."""
    await conn.execute(
        "UPDATE accounts SET needs_payment_method = false, updated_at = now() "
        "WHERE id = $1 AND needs_payment_method",
        account_id,
    )
