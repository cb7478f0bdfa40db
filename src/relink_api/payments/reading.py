"""Where a relink's payment-method set-up stands, and the payment methods it made."""

from __future__ import annotations

from relink_api.auth import Principal
from relink_api.db import Connection, Database
from relink_api.errors import NotFound
from relink_api.gateway.client import StripeGateway
from relink_api.pagination import fetch_page
from relink_api.payments import repository
from relink_api.payments.repository import SetupIntentRow
from relink_api.payments.schemas import (
    PaymentMethodList,
    PaymentMethodSetupRead,
    SetupFailure,
    SetupStatus,
)
from relink_api.payments.service import refresh_setup
from relink_api.payments.views import to_read
from relink_api.relink import service as relink_service


async def complete_setup(
    db: Database, gateway: StripeGateway, *, principal: Principal, session_id: str
) -> PaymentMethodSetupRead:
    """Read the session's SetupIntent from Stripe and record what it made."""
    live = await _latest(db, principal=principal, session_id=session_id)
    recorded = await refresh_setup(db, gateway, setup_intent_id=live.id)
    assert recorded is not None
    async with db.connection() as conn:
        return await _setup_read(conn, recorded)


async def get_setup(
    db: Database, *, principal: Principal, session_id: str
) -> PaymentMethodSetupRead:
    """The session's SetupIntent as last recorded."""
    live = await _latest(db, principal=principal, session_id=session_id)
    async with db.connection() as conn:
        return await _setup_read(conn, live)


async def _latest(db: Database, *, principal: Principal, session_id: str) -> SetupIntentRow:
    async with db.connection() as conn:
        await relink_service.load_owned(
            conn, customer_id=principal.customer_id, session_id=session_id
        )
        live = await repository.latest_for_session(
            conn, relink_session_id=session_id, customer_id=principal.customer_id
        )
    if live is None:
        raise NotFound(
            f"No payment method setup was started for relink session {session_id}; "
            "POST /v1/relink-sessions/{id}/payment-method first."
        )
    return live


async def _setup_read(conn: Connection, row: SetupIntentRow) -> PaymentMethodSetupRead:
    method = None
    if row.status is SetupStatus.succeeded and row.payment_method_id:
        found = await repository.get_payment_method(
            conn, payment_method_id=row.payment_method_id, customer_id=row.customer_id
        )
        method = to_read(found) if found else None
    return PaymentMethodSetupRead(
        setup_intent_id=row.id,
        relink_session_id=row.relink_session_id,
        account_id=row.account_id,
        replaces_payment_method_id=row.replaces_payment_method_id,
        status=row.status,
        failure=(
            SetupFailure(code=row.failure_code, message=row.failure_message)
            if row.status is SetupStatus.failed
            else None
        ),
        payment_method=method,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def list_payment_methods(
    db: Database, *, principal: Principal, cursor: str | None, limit: int
) -> PaymentMethodList:
    """A page of the payment methods relink-api set up for the caller."""
    async with db.connection() as conn:
        page = await fetch_page(
            lambda after_id, count: repository.list_payment_methods(
                conn, customer_id=principal.customer_id, after_id=after_id, limit=count
            ),
            cursor=cursor,
            limit=limit,
        )
    return PaymentMethodList(
        data=[to_read(row) for row in page.rows],
        has_more=page.has_more,
        next_cursor=page.next_cursor,
    )
