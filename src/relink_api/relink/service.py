"""Relink sessions as their customers see them: create one, read it, complete it."""

from __future__ import annotations

import hashlib
import hmac

from relink_api.auth import Principal
from relink_api.db import Connection, Database
from relink_api.db.window import CreatedWindow
from relink_api.errors import NotFound
from relink_api.gateway.client import StripeGateway
from relink_api.idempotency import service as idempotency
from relink_api.idempotency.service import IdempotencyKey, Idempotent
from relink_api.relink import completion, creation, repository
from relink_api.relink.create_schemas import CreatedSession, CreateRequest
from relink_api.relink.creation import new_session
from relink_api.relink.errors import RelinkSessionPending
from relink_api.relink.models import RelinkSessionRow
from relink_api.relink.schemas import RelinkSessionComplete, RelinkSessionRead
from relink_api.settings import Settings


async def create_session(
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    *,
    principal: Principal,
    request: CreateRequest,
    idempotency_key: IdempotencyKey | None = None,
) -> Idempotent[CreatedSession]:
    """Create a Stripe relink session for one of the caller's repairable accounts (once per
    idempotency key: a repeat gets the same session back)."""

    return await idempotency.create_once(
        db,
        idempotency_key,
        scope=idempotency.customer_scope(principal.customer_id),
        body=request,
        create=lambda claim: new_session(
            db, gateway, settings, principal=principal, request=request, claim=claim
        ),
        ids=lambda created: {"relink_session_id": created.id},
        rebuild=lambda ids: created_again(
            db,
            gateway,
            settings,
            customer_id=principal.customer_id,
            session_id=ids["relink_session_id"],
        ),
    )


async def created_again(
    db: Database, gateway: StripeGateway, settings: Settings, *, customer_id: str, session_id: str
) -> CreatedSession:
    """A created session's response rebuilt: the secret (and hosted url) re-read from
    Stripe, because neither is ever stored."""
    async with db.connection() as conn:
        row = await load_owned(conn, customer_id=customer_id, session_id=session_id)
    return await creation.response_again(gateway, settings, row)


def to_read(row: RelinkSessionRow) -> RelinkSessionRead:
    return RelinkSessionRead.model_validate(row, from_attributes=True)


async def load_owned(conn: Connection, *, customer_id: str, session_id: str) -> RelinkSessionRow:
    """The customer's relink session, or 404 — the same answer whether it is missing or
    another customer's."""
    row = await repository.get_owned(conn, session_id=session_id, customer_id=customer_id)
    if row is None:
        raise NotFound(f"No relink session {session_id} for this customer.")
    return row


async def _load_owned(db: Database, *, principal: Principal, session_id: str) -> RelinkSessionRow:
    async with db.connection() as conn:
        return await load_owned(conn, customer_id=principal.customer_id, session_id=session_id)


async def unfinished_sessions(db: Database, window: CreatedWindow) -> list[str]:
    """Stripe ids of sessions still open that were created in the window, oldest first."""
    async with db.connection() as conn:
        return await repository.list_unfinished(conn, window)


async def get_session(db: Database, *, principal: Principal, session_id: str) -> RelinkSessionRead:
    return to_read(await _load_owned(db, principal=principal, session_id=session_id))


async def complete_session(
    db: Database,
    gateway: StripeGateway,
    *,
    principal: Principal,
    session_id: str,
    hint: RelinkSessionComplete | None,
) -> RelinkSessionRead:
    """Verify with Stripe what the customer did and record it; idempotent once completed."""
    row = await _load_owned(db, principal=principal, session_id=session_id)
    return to_read(await completion.complete(db, gateway, row, hint=hint))


async def complete_from_return(
    db: Database, gateway: StripeGateway, *, session_id: str, state: str
) -> RelinkSessionRow:
    """Complete a hosted session from its return URL, which proves access with its token.

    An unknown session and a wrong token look the same (404), as for other customers."""
    async with db.connection() as conn:
        row = await repository.get(conn, session_id=session_id)
    offered = hashlib.sha256(state.encode()).hexdigest()
    if (
        row is None
        or row.return_token_sha256 is None
        or not hmac.compare_digest(offered, row.return_token_sha256)
    ):
        raise NotFound("No such relink session.")
    return await completion.complete(db, gateway, row, hint=None)


async def complete_for_stripe_session(
    db: Database, gateway: StripeGateway, *, stripe_session_id: str
) -> RelinkSessionRow | None:
    """Complete the session Stripe says has finished (its ``session.updated`` webhook), so a
    hosted or emailed relink is recorded even if the customer never comes back to us.
    ``None`` for a session that is not ours or is still pending."""
    async with db.connection() as conn:
        row = await repository.get_by_stripe_session(conn, stripe_session_id=stripe_session_id)
    if row is None:
        return None
    try:
        return await completion.complete(db, gateway, row, hint=None)
    except RelinkSessionPending:
        return None
