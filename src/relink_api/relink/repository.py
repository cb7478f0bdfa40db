"""SQL for relink sessions. Private to the relink package: other features call
``relink.service``."""

from __future__ import annotations

from collections.abc import Sequence

from relink_api.accounts.schemas import LinkHealth
from relink_api.db import Connection
from relink_api.db.window import IN_WINDOW, CreatedWindow
from relink_api.relink.models import RelinkSessionRow
from relink_api.relink.schemas import (
    Delivery,
    FailureReason,
    NextStep,
    RelinkOutcome,
    RelinkScope,
    UiMode,
)

_COLUMNS = """
    id, stripe_session_id, customer_id, scope, authorization_id, account_id, ui_mode,
    permissions, return_url, status, outcome, failure_reason, next_step, linked_account_ids,
    reactivated_account_ids, stripe_status, created_at, completed_at, accounts_at_start,
    delivery, return_token_sha256
"""


async def insert(
    conn: Connection,
    *,
    session_id: str,
    stripe_session_id: str,
    customer_id: str,
    scope: RelinkScope,
    authorization_id: str,
    account_id: str,
    ui_mode: UiMode,
    permissions: Sequence[str],
    return_url: str | None,
    accounts_at_start: dict[str, LinkHealth],
    delivery: Delivery | None,
    return_token_sha256: str | None,
    started: bool,
) -> RelinkSessionRow:
    """Store a new session and, when ``started`` (the customer started it), mark the
    account's open break episode as relinking: one statement, its own transaction
    (migration 0018), so call it outside a transaction block."""
    record = await conn.fetchrow(
        f"""
        SELECT {_COLUMNS}
        FROM relink_session_created($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        """,
        session_id,
        stripe_session_id,
        customer_id,
        scope,
        authorization_id,
        account_id,
        ui_mode,
        list(permissions),
        return_url,
        accounts_at_start,
        delivery,
        return_token_sha256,
        started,
    )
    assert record is not None
    return RelinkSessionRow.from_record(record)


async def get_owned(
    conn: Connection, *, session_id: str, customer_id: str, for_update: bool = False
) -> RelinkSessionRow | None:
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM relink_sessions WHERE id = $1 AND customer_id = $2"
        + (" FOR UPDATE" if for_update else ""),
        session_id,
        customer_id,
    )
    return RelinkSessionRow.from_record(record) if record else None


async def get(conn: Connection, *, session_id: str) -> RelinkSessionRow | None:
    """Any customer's session: for callers that prove access another way (a return token)."""
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM relink_sessions WHERE id = $1", session_id
    )
    return RelinkSessionRow.from_record(record) if record else None


async def get_by_stripe_session(
    conn: Connection, *, stripe_session_id: str
) -> RelinkSessionRow | None:
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM relink_sessions WHERE stripe_session_id = $1", stripe_session_id
    )
    return RelinkSessionRow.from_record(record) if record else None


async def complete(
    conn: Connection,
    *,
    session_id: str,
    outcome: RelinkOutcome,
    failure_reason: FailureReason | None,
    next_step: NextStep,
    linked_account_ids: Sequence[str],
    reactivated_account_ids: Sequence[str],
    stripe_status: str | None,
) -> RelinkSessionRow:
    record = await conn.fetchrow(
        f"""
        UPDATE relink_sessions SET
            status = 'completed', outcome = $2, failure_reason = $3, next_step = $4,
            linked_account_ids = $5, reactivated_account_ids = $6, stripe_status = $7,
            completed_at = now()
        WHERE id = $1 AND status = 'open'
        RETURNING {_COLUMNS}
        """,
        session_id,
        outcome,
        failure_reason,
        next_step,
        list(linked_account_ids),
        list(reactivated_account_ids),
        stripe_status,
    )
    assert record is not None
    return RelinkSessionRow.from_record(record)


async def list_unfinished(conn: Connection, window: CreatedWindow) -> list[str]:
    """Stripe ids of sessions still open that were created in the window, oldest first."""
    records = await conn.fetch(
        f"SELECT stripe_session_id FROM relink_sessions WHERE status = 'open' AND {IN_WINDOW}",
        *window.args(),
    )
    return [record["stripe_session_id"] for record in records]
