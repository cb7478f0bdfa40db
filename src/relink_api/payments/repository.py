"""SQL for SetupIntents and the payment methods they made."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from relink_api.accounts.schemas import LinkHealth
from relink_api.db import Connection
from relink_api.db.window import IN_WINDOW, CreatedWindow
from relink_api.payments.schemas import SetupStatus

_SETUP_COLUMNS = """
    id, relink_session_id, customer_id, account_id, replaces_payment_method_id, status,
    stripe_status, payment_method_id, failure_code, failure_message, created_at, updated_at
"""
# Canceled by relink-api (another SetupIntent of the session succeeded) while Stripe's last
# word was still an open status: cancel it there too.
_SUPERSEDED = "status = 'canceled' AND stripe_status <> 'canceled'"
# Stripe's copy of the payment method, and the link health of the account it draws on:
# two separate facts (a broken link does not stop a payment method, docs/stripe.md §6).
_PAYMENT_METHOD_SELECT = """
    SELECT pm.id, pm.customer_id, pm.account_id, pm.setup_intent_id, pm.relink_session_id,
           pm.replaces_payment_method_id, pm.bank_name, pm.last4, pm.account_type,
           pm.blocked, pm.blocked_reason, pm.blocked_network_code, pm.detached_at,
           pm.created_at,
           relink_link_health(a.status, a.action, a.account_number_expires_at, now())
               AS link_health
    FROM payment_methods pm JOIN accounts a ON a.id = pm.account_id
"""


@dataclass(frozen=True, slots=True)
class SetupIntentRow:
    id: str
    relink_session_id: str
    customer_id: str
    account_id: str
    replaces_payment_method_id: str | None
    status: SetupStatus
    stripe_status: str
    payment_method_id: str | None
    failure_code: str | None
    failure_message: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> SetupIntentRow:
        return cls(**{**dict(record), "status": SetupStatus(record["status"])})


@dataclass(frozen=True, slots=True)
class PaymentMethodRow:
    id: str
    customer_id: str
    account_id: str
    setup_intent_id: str
    relink_session_id: str
    replaces_payment_method_id: str | None
    bank_name: str | None
    last4: str | None
    account_type: str | None
    blocked: bool
    blocked_reason: str | None
    blocked_network_code: str | None
    detached_at: datetime | None
    created_at: datetime
    link_health: LinkHealth

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> PaymentMethodRow:
        return cls(**{**dict(record), "link_health": LinkHealth(record["link_health"])})


@dataclass(frozen=True, slots=True)
class StripeCopy:
    """What a read of Stripe's PaymentMethod says. ``saved``: it has a customer now;
    ``was_saved``: the caller knows Stripe saved it to one (its SetupIntent named one)."""

    blocked: bool
    blocked_reason: str | None
    blocked_network_code: str | None
    saved: bool
    bank_name: str | None
    last4: str | None
    account_type: str | None
    snapshot: dict[str, Any]
    was_saved: bool = False


async def insert_setup_intent(
    conn: Connection,
    *,
    setup_intent_id: str,
    relink_session_id: str,
    customer_id: str,
    account_id: str,
    replaces_payment_method_id: str | None,
    status: SetupStatus,
    stripe_status: str,
) -> SetupIntentRow | None:
    """The new row, or ``None`` when the session already has a live SetupIntent."""
    record = await conn.fetchrow(
        f"""
        INSERT INTO setup_intents (
            id, relink_session_id, customer_id, account_id, replaces_payment_method_id,
            status, stripe_status)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT DO NOTHING
        RETURNING {_SETUP_COLUMNS}
        """,
        setup_intent_id,
        relink_session_id,
        customer_id,
        account_id,
        replaces_payment_method_id,
        status.value,
        stripe_status,
    )
    return SetupIntentRow.from_record(record) if record else None


async def get_setup_intent(
    conn: Connection, *, setup_intent_id: str, for_update: bool = False
) -> SetupIntentRow | None:
    record = await conn.fetchrow(
        f"SELECT {_SETUP_COLUMNS} FROM setup_intents WHERE id = $1"
        + (" FOR UPDATE" if for_update else ""),
        setup_intent_id,
    )
    return SetupIntentRow.from_record(record) if record else None


async def latest_for_session(
    conn: Connection, *, relink_session_id: str, customer_id: str
) -> SetupIntentRow | None:
    """The session's live SetupIntent if it has one, else its most recent."""
    record = await conn.fetchrow(
        f"""
        SELECT {_SETUP_COLUMNS} FROM setup_intents
        WHERE relink_session_id = $1 AND customer_id = $2
        ORDER BY status IN ('pending', 'succeeded') DESC, created_at DESC, id DESC
        LIMIT 1
        """,
        relink_session_id,
        customer_id,
    )
    return SetupIntentRow.from_record(record) if record else None


async def other_pending(conn: Connection, *, relink_session_id: str, except_id: str) -> str | None:
    """Another pending SetupIntent of the session, locked, if there is one."""
    found: str | None = await conn.fetchval(
        "SELECT id FROM setup_intents WHERE relink_session_id = $1 AND id <> $2 "
        "AND status = 'pending' FOR UPDATE",
        relink_session_id,
        except_id,
    )
    return found


async def set_status(conn: Connection, *, setup_intent_id: str, status: SetupStatus) -> None:
    await conn.execute(
        "UPDATE setup_intents SET status = $2, updated_at = now() WHERE id = $1",
        setup_intent_id,
        status.value,
    )


async def update_setup_intent(
    conn: Connection,
    *,
    setup_intent_id: str,
    status: SetupStatus,
    stripe_status: str,
    payment_method_id: str | None,
    failure_code: str | None,
    failure_message: str | None,
) -> SetupIntentRow:
    record = await conn.fetchrow(
        f"""
        UPDATE setup_intents SET
            status = $2, stripe_status = $3, payment_method_id = $4, failure_code = $5,
            failure_message = $6, updated_at = now()
        WHERE id = $1
        RETURNING {_SETUP_COLUMNS}
        """,
        setup_intent_id,
        status.value,
        stripe_status,
        payment_method_id,
        failure_code,
        failure_message,
    )
    assert record is not None
    return SetupIntentRow.from_record(record)


async def insert_payment_method(
    conn: Connection, *, payment_method_id: str, setup: SetupIntentRow, copy: StripeCopy
) -> bool:
    """The payment method a SetupIntent of ours made, if not yet recorded (``False``: it
    was); Stripe's copy is then written by ``record_stripe_copy``."""
    status = await conn.execute(
        """
        INSERT INTO payment_methods (
            id, customer_id, account_id, setup_intent_id, relink_session_id,
            replaces_payment_method_id, snapshot)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (id) DO NOTHING
        """,
        payment_method_id,
        setup.customer_id,
        setup.account_id,
        setup.id,
        setup.relink_session_id,
        setup.replaces_payment_method_id,
        copy.snapshot,
    )
    return bool(status == "INSERT 0 1")


async def record_stripe_copy(
    conn: Connection, *, payment_method_id: str, copy: StripeCopy
) -> bool | None:
    """Write a read of Stripe's PaymentMethod; return whether it was blocked before, or
    ``None`` if relink-api holds no such one.

    Detachment is permanent at Stripe: once seen (no customer now, where it had one) it is
    kept, whatever a later or reordered read says."""
    was_blocked: bool | None = await conn.fetchval(
        """
        WITH before AS (SELECT id, blocked FROM payment_methods WHERE id = $1 FOR UPDATE)
        UPDATE payment_methods SET
            bank_name = $2, last4 = $3, account_type = $4, blocked = $5, blocked_reason = $6,
            blocked_network_code = $7,
            detached_at = CASE
                WHEN detached_at IS NOT NULL OR $8 THEN detached_at
                WHEN $9 OR snapshot->>'customer' IS NOT NULL
                     OR snapshot->>'customer_account' IS NOT NULL THEN now()
            END,
            snapshot = $10, updated_at = now()
        FROM before
        WHERE payment_methods.id = before.id
        RETURNING before.blocked
        """,
        payment_method_id,
        copy.bank_name,
        copy.last4,
        copy.account_type,
        copy.blocked,
        copy.blocked_reason,
        copy.blocked_network_code,
        copy.saved,
        copy.was_saved,
        copy.snapshot,
    )
    return was_blocked


async def is_held(conn: Connection, *, payment_method_id: str) -> bool:
    """Whether relink-api set this payment method up."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM payment_methods WHERE id = $1)", payment_method_id
    )
    return found


async def ids_on_accounts(conn: Connection, *, account_ids: Sequence[str]) -> list[str]:
    """Payment methods drawing on these accounts that Stripe may still change (any not
    detached), in id order."""
    records = await conn.fetch(
        "SELECT id FROM payment_methods WHERE account_id = ANY($1::text[]) "
        "AND detached_at IS NULL ORDER BY id",
        list(account_ids),
    )
    return [record["id"] for record in records]


async def newest_from_account(conn: Connection, *, customer_id: str, account_id: str) -> str | None:
    """The newest payment method relink-api made from this account, if any."""
    found: str | None = await conn.fetchval(
        "SELECT id FROM payment_methods WHERE customer_id = $1 AND account_id = $2 "
        "ORDER BY created_at DESC, id DESC LIMIT 1",
        customer_id,
        account_id,
    )
    return found


async def find_payment_method(conn: Connection, *, payment_method_id: str) -> PaymentMethodRow:
    """A payment method relink-api holds, whoever its customer (for events about it)."""
    record = await conn.fetchrow(_PAYMENT_METHOD_SELECT + " WHERE pm.id = $1", payment_method_id)
    assert record is not None
    return PaymentMethodRow.from_record(record)


async def get_payment_method(
    conn: Connection, *, payment_method_id: str, customer_id: str
) -> PaymentMethodRow | None:
    record = await conn.fetchrow(
        _PAYMENT_METHOD_SELECT + " WHERE pm.id = $1 AND pm.customer_id = $2",
        payment_method_id,
        customer_id,
    )
    return PaymentMethodRow.from_record(record) if record else None


async def list_payment_methods(
    conn: Connection, *, customer_id: str, after_id: str | None, limit: int
) -> list[PaymentMethodRow]:
    """A page of the customer's payment methods in id order, after ``after_id``."""
    records = await conn.fetch(
        _PAYMENT_METHOD_SELECT
        + """
        WHERE pm.customer_id = $1 AND ($2::text IS NULL OR pm.id > $2)
        ORDER BY pm.id
        LIMIT $3
        """,
        customer_id,
        after_id,
        limit,
    )
    return [PaymentMethodRow.from_record(record) for record in records]


async def list_pending(conn: Connection, window: CreatedWindow) -> list[str]:
    """SetupIntents still pending that were created in the window, oldest first."""
    records = await conn.fetch(
        f"SELECT id FROM setup_intents WHERE status = 'pending' AND {IN_WINDOW}", *window.args()
    )
    return [record["id"] for record in records]


async def superseded_of_session(conn: Connection, *, relink_session_id: str) -> list[str]:
    """SetupIntents of the session canceled here that Stripe may still hold open."""
    records = await conn.fetch(
        f"SELECT id FROM setup_intents WHERE relink_session_id = $1 AND {_SUPERSEDED} "
        "ORDER BY created_at",
        relink_session_id,
    )
    return [record["id"] for record in records]


async def list_superseded(conn: Connection, window: CreatedWindow) -> list[str]:
    """SetupIntents canceled here that Stripe may still hold open, created in the window."""
    records = await conn.fetch(
        f"SELECT id FROM setup_intents WHERE {_SUPERSEDED} AND {IN_WINDOW}", *window.args()
    )
    return [record["id"] for record in records]
