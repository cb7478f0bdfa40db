"""Create relink sessions and reconcile their outcome with Stripe."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from relink_api.accounts import repository as accounts_repository
from relink_api.accounts import service as accounts_service
from relink_api.accounts.repository import AccountRow
from relink_api.auth import Principal
from relink_api.db import Connection, Database
from relink_api.errors import NotConfigured, NotFound, ValidationFailed
from relink_api.gateway.client import StripeGateway
from relink_api.gateway.errors import StripeResourceMissing
from relink_api.gateway.fanout import gather_limited
from relink_api.gateway.objects import AccountHolder, FcAccount, FcSession
from relink_api.gateway.requests import RelinkSessionRequest
from relink_api.idempotency import service as idempotency
from relink_api.idempotency.service import Claim, IdempotencyKey, Idempotent
from relink_api.redirects import is_allowed_return_url
from relink_api.relink import repository
from relink_api.relink.classify import Verdict, classify
from relink_api.relink.errors import (
    AccountDisconnected,
    AccountHealthy,
    AccountNotRepairable,
    AccountWithoutAuthorization,
    RelinkSessionPending,
)
from relink_api.relink.repository import RelinkSessionRow
from relink_api.relink.schemas import (
    Delivery,
    FailureReason,
    NextStep,
    Permission,
    RelinkOutcome,
    RelinkScope,
    RelinkSessionComplete,
    RelinkSessionCreate,
    RelinkSessionCreated,
    RelinkSessionRead,
    RelinkSessionStatus,
    UiMode,
)
from relink_api.settings import Settings

logger = logging.getLogger(__name__)

# Sibling re-reads after a relink fan out; stay well under Stripe's ~25 requests/s.
_SIBLING_READ_CONCURRENCY = 4


_PERMISSIONS = frozenset(permission.value for permission in Permission)
_NEEDED_REPAIR = frozenset({"relink_required", "expiring"})


def _new_session_id() -> str:
    return "rls_" + secrets.token_hex(12)


RETURN_PATH = "/relink/return"


def _return_token(settings: Settings, session_id: str, *, derived: bool) -> tuple[str, str]:
    """A token for the hosted return URL, and the hash that is all we keep of it.

    Under an idempotency key it is derived (keyed with the Stripe secret key, which no
    client knows), so a retry sends Stripe the same return URL and gets the same session."""
    if derived:
        assert settings.stripe_secret_key is not None
        token = hmac.new(
            settings.stripe_secret_key.get_secret_value().encode(),
            b"relink-return\x1f" + session_id.encode(),
            hashlib.sha256,
        ).hexdigest()
    else:
        token = secrets.token_urlsafe(24)
    return token, hashlib.sha256(token.encode()).hexdigest()


def _ensure_repairable(account: AccountRow, scope: RelinkScope) -> str:
    """The authorization to relink, or a 409 that says what to do instead."""
    health = account.link_health
    # An unrepairable account (closed, say) cannot come back, but the login it was reached
    # through may still let the customer pick another account at the same bank.
    if health == "unrepairable" and not (
        scope is RelinkScope.institution and account.authorization_id is not None
    ):
        cause = f" (cause: {account.cause})" if account.cause else ""
        raise AccountNotRepairable(
            f"Stripe cannot repair account {account.id}{cause}. Start an institution-scope "
            "relink so the customer can link another account at the same bank, then set up a "
            "new payment method for it.",
            extensions={"link_health": health},
        )
    if health == "disconnected":
        raise AccountDisconnected(
            f"Account {account.id} was disconnected. Ask the customer to link it again with "
            "a new Financial Connections session.",
            extensions={"link_health": health},
        )
    if health == "ok":
        raise AccountHealthy(
            f"Account {account.id} is active with nothing to repair.",
            extensions={"link_health": health},
        )
    if account.authorization_id is None:
        raise AccountWithoutAuthorization(
            f"Stripe has not reported an authorization for account {account.id}; refresh the "
            "account (POST /v1/accounts/{id}/refresh) and try again.",
            extensions={"link_health": health},
        )
    return account.authorization_id


async def create_session(
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    *,
    principal: Principal,
    request: RelinkSessionCreate,
    idempotency_key: IdempotencyKey | None = None,
) -> Idempotent[RelinkSessionCreated]:
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


async def new_session(
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    *,
    principal: Principal,
    request: RelinkSessionCreate,
    claim: Claim | None,
) -> RelinkSessionCreated:
    """Create the session. Under an idempotency claim its ids are derived from the claim,
    so a retry after a crash finds (or has Stripe return) what the first attempt made."""
    if request.return_url is not None and not is_allowed_return_url(
        request.return_url, settings.return_url_allowlist
    ):
        raise ValidationFailed(
            "return_url is not on this server's allowlist (RELINK_RETURN_URL_ALLOWLIST).",
            extensions={"errors": [{"loc": ["body", "return_url"], "msg": "not allowed"}]},
        )
    hosted = request.ui_mode is UiMode.hosted
    if hosted and settings.public_base_url is None:
        raise NotConfigured(
            "Hosted relink needs RELINK_PUBLIC_BASE_URL (how customers' browsers reach this "
            "server), because the hosted flow returns to its /relink/return page."
        )
    async with db.connection() as conn:
        account = await accounts_service.load_owned(
            conn, principal=principal, account_id=request.account_id
        )
        authorization_id = _ensure_repairable(account, request.scope)
        on_authorization = await accounts_repository.list_on_authorization(
            conn, authorization_id=authorization_id, customer_id=principal.customer_id
        )
    permissions = (
        [permission.value for permission in request.permissions]
        if request.permissions
        else list(account.permissions)
    )
    holder = (
        AccountHolder.model_validate(account.account_holder) if account.account_holder else None
    )
    session_id = "rls_" + claim.derive("relink-session") if claim else _new_session_id()
    if claim is not None:
        async with db.connection() as conn:
            existing = await repository.get_owned(
                conn, session_id=session_id, customer_id=principal.customer_id
            )
        if existing is not None:
            # An earlier attempt under this claim got this far before it died.
            return await created_again(
                db, gateway, settings, customer_id=principal.customer_id, session_id=session_id
            )
    stripe_return_url = request.return_url
    token_hash: str | None = None
    if hosted:
        assert settings.public_base_url is not None
        token, token_hash = _return_token(settings, session_id, derived=claim is not None)
        # Stripe sends the customer to our return page, which records the outcome and only
        # then forwards to the client's own (allowlisted) return_url.
        stripe_return_url = (
            settings.public_base_url.rstrip("/")
            + RETURN_PATH
            + "?"
            + urlencode({"session": session_id, "state": token})
        )
    stripe_session = await gateway.create_relink_session(
        RelinkSessionRequest(
            scope=request.scope.value,
            authorization_id=authorization_id,
            account_id=account.id,
            account_holder=holder,
            permissions=[value for value in permissions if value in _PERMISSIONS],
            return_url=stripe_return_url,
            # Our id is fresh per call, so the SDK's own retries reuse one Stripe session.
            idempotency_key=f"relink-session-{session_id}",
            hosted_delivery=request.delivery.value if request.delivery else None,
        )
    )
    if not hosted and not stripe_session.client_secret:
        raise RuntimeError("Stripe returned a session without a client_secret")
    if request.delivery is Delivery.url and not stripe_session.url:
        raise RuntimeError("Stripe returned a hosted session without a url")
    async with db.transaction() as conn:
        row = await repository.insert(
            conn,
            session_id=session_id,
            stripe_session_id=stripe_session.id,
            customer_id=principal.customer_id,
            scope=request.scope.value,
            authorization_id=authorization_id,
            account_id=account.id,
            ui_mode=request.ui_mode.value,
            permissions=stripe_session.permissions,
            return_url=request.return_url,
            accounts_at_start={sibling.id: sibling.link_health for sibling in on_authorization},
            delivery=request.delivery.value if request.delivery else None,
            return_token_sha256=token_hash,
        )
    logger.info(
        "relink session %s created (stripe %s, scope %s, account %s, %s%s)",
        row.id,
        row.stripe_session_id,
        row.scope,
        row.account_id,
        row.ui_mode,
        f" by {row.delivery}" if row.delivery else "",
    )
    return _created(row, stripe_session, settings)


async def created_again(
    db: Database, gateway: StripeGateway, settings: Settings, *, customer_id: str, session_id: str
) -> RelinkSessionCreated:
    """A created session's response rebuilt: the secret (and hosted url) re-read from
    Stripe, because neither is ever stored."""
    async with db.connection() as conn:
        row = await load_owned(conn, customer_id=customer_id, session_id=session_id)
    return _created(row, await gateway.retrieve_session(row.stripe_session_id), settings)


def _created(
    row: RelinkSessionRow, stripe_session: FcSession, settings: Settings
) -> RelinkSessionCreated:
    hosted = row.ui_mode == UiMode.hosted
    delivery = Delivery(row.delivery) if row.delivery else None
    return RelinkSessionCreated(
        id=row.id,
        stripe_session_id=row.stripe_session_id,
        # Hosted sessions are finished on Stripe's page: no secret leaves this server.
        client_secret=None if hosted else stripe_session.client_secret,
        publishable_key=settings.stripe_publishable_key,
        scope=RelinkScope(row.scope),
        account_id=row.account_id,
        authorization_id=row.authorization_id,
        ui_mode=UiMode(row.ui_mode),
        delivery=delivery,
        # Stripe drops the url once the session is over.
        url=stripe_session.url if delivery is Delivery.url else None,
        status=RelinkSessionStatus(row.status),
        created_at=row.created_at,
    )


def to_read(row: RelinkSessionRow) -> RelinkSessionRead:
    return RelinkSessionRead(
        id=row.id,
        stripe_session_id=row.stripe_session_id,
        scope=RelinkScope(row.scope),
        account_id=row.account_id,
        authorization_id=row.authorization_id,
        ui_mode=UiMode(row.ui_mode),
        delivery=Delivery(row.delivery) if row.delivery else None,
        status=RelinkSessionStatus(row.status),
        outcome=RelinkOutcome(row.outcome) if row.outcome else None,
        failure_reason=FailureReason(row.failure_reason) if row.failure_reason else None,
        next_step=NextStep(row.next_step) if row.next_step else None,
        linked_account_ids=row.linked_account_ids,
        reactivated_account_ids=row.reactivated_account_ids,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


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


async def unfinished_sessions(
    db: Database,
    *,
    created_before: datetime,
    created_after: datetime,
    customer_ids: Sequence[str] | None,
    limit: int,
) -> list[str]:
    """Stripe ids of sessions still open that were created in the window, oldest first."""
    async with db.connection() as conn:
        return await repository.list_unfinished(
            conn,
            created_before=created_before,
            created_after=created_after,
            customer_ids=customer_ids,
            limit=limit,
        )


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
    return to_read(await _complete(db, gateway, row, hint=hint))


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
    return await _complete(db, gateway, row, hint=None)


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
        return await _complete(db, gateway, row, hint=None)
    except RelinkSessionPending:
        return None


async def _complete(
    db: Database,
    gateway: StripeGateway,
    row: RelinkSessionRow,
    *,
    hint: RelinkSessionComplete | None,
) -> RelinkSessionRow:
    if row.status == RelinkSessionStatus.completed:
        return row
    customer_id = row.customer_id

    # Whatever the browser posted, the verdict comes from Stripe's copy, read server-side.
    stripe_session = await gateway.retrieve_session(row.stripe_session_id)
    linked_ids = [account.id for account in stripe_session.accounts.data]
    if stripe_session.relink_result and stripe_session.relink_result.account:
        linked_ids.append(stripe_session.relink_result.account)
    async with db.connection() as conn:
        # "Known" means known before the session began: Stripe's `account.created` webhook
        # may already have stored an account the customer has only just linked.
        known = await accounts_repository.known_ids(
            conn,
            customer_id=customer_id,
            account_ids=linked_ids,
            stored_before=row.created_at,
        )
        siblings = await accounts_repository.list_on_authorization(
            conn, authorization_id=row.authorization_id, customer_id=customer_id
        )
    scope = RelinkScope(row.scope)
    verdict = classify(stripe_session, scope=scope, known_account_ids=known)
    if verdict is None:
        raise RelinkSessionPending(
            "Stripe still reports this session as pending; complete it after the customer "
            "finishes the flow."
        )
    _log_disagreement(row, hint, verdict)
    stand_ins = _stand_ins(row, verdict)
    replacements = frozenset(verdict.new_account_ids) | stand_ins
    next_step = NextStep.set_up_payment_method if stand_ins else verdict.next_step

    snapshots: dict[str, tuple[FcAccount, dict[str, Any]]] = {}
    if verdict.outcome in (RelinkOutcome.relinked, RelinkOutcome.new_account):
        for account in stripe_session.accounts.data:
            snapshots[account.id] = (account, account.model_dump(mode="json"))
        # A repaired authorization can reactivate every account on it: re-read the known
        # ones the session did not return, so the outcome can list them.
        to_read_ids = [
            account_id for account_id in verdict.linked_account_ids if account_id not in snapshots
        ]
        to_read_ids += [
            sibling.id
            for sibling in siblings
            if sibling.id not in snapshots
            and sibling.id not in to_read_ids
            and sibling.status != "disconnected"
        ]
        linked = set(verdict.linked_account_ids)

        async def read(account_id: str) -> tuple[FcAccount, dict[str, Any]] | None:
            try:
                return await gateway.retrieve_account(account_id)
            except StripeResourceMissing:
                if account_id in linked:
                    raise
                # A sibling Stripe no longer knows must not block the customer's outcome.
                logger.warning("relink %s: sibling %s is gone from Stripe", row.id, account_id)
                return None

        for snapshot in await gather_limited(to_read_ids, read, limit=_SIBLING_READ_CONCURRENCY):
            if snapshot is not None:
                snapshots[snapshot[0].id] = snapshot

    state_as_of = accounts_service.read_time()
    async with db.transaction() as conn:
        locked = await repository.get_owned(
            conn, session_id=row.id, customer_id=customer_id, for_update=True
        )
        assert locked is not None
        if locked.status == RelinkSessionStatus.completed:
            return locked  # a concurrent call finished first
        health_now: dict[str, str] = {}
        # Lock accounts in id order, as every multi-account writer does: no deadlocks.
        for account_id, (account, raw) in sorted(snapshots.items()):
            replaces = account_id in replacements
            applied = await accounts_service.apply_snapshot(
                conn,
                account=account,
                raw=raw,
                source="relink",
                state_as_of=state_as_of,
                relink_session_id=row.id,
                owner_if_new=customer_id,
                needs_payment_method=replaces,
                replaces_account_id=row.account_id if replaces else None,
            )
            if replaces:
                # Also for one stored earlier (its `account.created` webhook, or a known
                # sibling standing in for an unrepairable account).
                await accounts_repository.mark_replacement(
                    conn,
                    account_id=account_id,
                    customer_id=customer_id,
                    replaces_account_id=row.account_id,
                    relink_session_id=row.id,
                )
            health_now[account_id] = applied.after.link_health
        # Judged against the session's start: webhooks may have reactivated some already.
        reactivated = [
            account_id
            for account_id, health in row.accounts_at_start.items()
            if health in _NEEDED_REPAIR and health_now.get(account_id) == "ok"
        ]
        completed = await repository.complete(
            conn,
            session_id=row.id,
            outcome=verdict.outcome.value,
            failure_reason=verdict.failure_reason.value if verdict.failure_reason else None,
            next_step=next_step.value,
            linked_account_ids=verdict.linked_account_ids,
            reactivated_account_ids=sorted(reactivated),
            stripe_status=stripe_session.status,
        )
    logger.info(
        "relink session %s completed: %s%s",
        completed.id,
        completed.outcome,
        f" ({completed.failure_reason})" if completed.failure_reason else "",
    )
    return completed


def _stand_ins(row: RelinkSessionRow, verdict: Verdict) -> frozenset[str]:
    """Known accounts linked in place of an unrepairable one (closed, say): like new
    accounts, they need a payment method, because the old one's cannot be repaired."""
    if (
        verdict.outcome is RelinkOutcome.relinked
        and row.accounts_at_start.get(row.account_id) == "unrepairable"
    ):
        return frozenset(
            account_id for account_id in verdict.linked_account_ids if account_id != row.account_id
        )
    return frozenset()


def _log_disagreement(
    row: RelinkSessionRow, hint: RelinkSessionComplete | None, verdict: Verdict
) -> None:
    if hint is None or hint.financialConnectionsSession is None:
        return
    claimed = hint.financialConnectionsSession.get("relink_result") or {}
    claimed_reason = claimed.get("failure_reason") if isinstance(claimed, dict) else None
    actual_reason = verdict.failure_reason.value if verdict.failure_reason else None
    if claimed_reason != actual_reason:
        logger.warning(
            "relink session %s: the client reported failure_reason=%r, Stripe says %r; "
            "Stripe's answer is recorded",
            row.id,
            claimed_reason,
            actual_reason,
        )
