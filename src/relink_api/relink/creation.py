"""Start a relink: check the account can be repaired, create Stripe's session, store ours."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Any
from urllib.parse import urlencode

from relink_api.accounts import service as accounts_service
from relink_api.accounts.models import AccountRow
from relink_api.accounts.schemas import LinkHealth
from relink_api.auth import Principal
from relink_api.db import Database
from relink_api.errors import NotConfigured, ValidationFailed
from relink_api.gateway.client import StripeGateway
from relink_api.gateway.errors import StripeInvalidRequest
from relink_api.gateway.objects import AccountHolder, FcSession
from relink_api.gateway.requests import RelinkSessionRequest
from relink_api.idempotency.service import Claim
from relink_api.redirects import is_allowed_return_url
from relink_api.relink import repository
from relink_api.relink.create_schemas import (
    CreatedSession,
    CreateRequest,
    RelinkSessionCreatedHostedEmail,
    RelinkSessionCreatedHostedUrl,
    RelinkSessionCreatedModal,
)
from relink_api.relink.errors import (
    AccountDisconnected,
    AccountHealthy,
    AccountNotRepairable,
    AccountWithoutAuthorization,
    HostedRelinkNotEnabled,
    RelinkSessionOver,
)
from relink_api.relink.models import RelinkSessionRow
from relink_api.relink.schemas import Delivery, Permission, RelinkScope, UiMode
from relink_api.settings import Settings

logger = logging.getLogger(__name__)

RETURN_PATH = "/relink/return"

_PERMISSIONS = frozenset(permission.value for permission in Permission)


def _new_session_id() -> str:
    return "rls_" + secrets.token_hex(12)


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
    if health is LinkHealth.unrepairable and not (
        scope is RelinkScope.institution and account.authorization_id is not None
    ):
        cause = f" (cause: {account.cause})" if account.cause else ""
        raise AccountNotRepairable(
            f"Stripe cannot repair account {account.id}{cause}. Start an institution-scope "
            "relink so the customer can link another account at the same bank, then set up a "
            "new payment method for it.",
            extensions={"link_health": health.value},
        )
    if health is LinkHealth.disconnected:
        raise AccountDisconnected(
            f"Account {account.id} was disconnected. Ask the customer to link it again with "
            "a new Financial Connections session.",
            extensions={"link_health": health.value},
        )
    if health is LinkHealth.ok:
        raise AccountHealthy(
            f"Account {account.id} is active with nothing to repair.",
            extensions={"link_health": health.value},
        )
    # An `unknown` status (newer than this code) is not refused here: Stripe decides whether
    # a relink can help, and refuses one that cannot.
    if account.authorization_id is None:
        raise AccountWithoutAuthorization(
            f"Stripe has not reported an authorization for account {account.id}; refresh the "
            "account (POST /v1/accounts/{id}/refresh) and try again.",
            extensions={"link_health": health.value},
        )
    return account.authorization_id


def _check_request(request: CreateRequest, settings: Settings) -> None:
    if request.return_url is not None and not is_allowed_return_url(
        request.return_url, settings.return_url_allowlist
    ):
        raise ValidationFailed(
            "return_url is not on this server's allowlist (RELINK_RETURN_URL_ALLOWLIST).",
            extensions={"errors": [{"loc": ["body", "return_url"], "msg": "not allowed"}]},
        )
    if request.ui_mode is UiMode.hosted and settings.public_base_url is None:
        raise NotConfigured(
            "Hosted relink needs RELINK_PUBLIC_BASE_URL (how customers' browsers reach this "
            "server), because the hosted flow returns to its /relink/return page."
        )
    if request.ui_mode is UiMode.modal:
        _publishable_key(settings)


def _publishable_key(settings: Settings) -> str:
    # A client secret is of no use to a client without the key it goes with.
    if settings.stripe_publishable_key is None:
        raise NotConfigured("Modal relinks need STRIPE_PUBLISHABLE_KEY (pk_test_… or pk_live_…).")
    return settings.stripe_publishable_key


async def new_session(
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    *,
    principal: Principal,
    request: CreateRequest,
    claim: Claim | None,
) -> CreatedSession:
    """Create the session. Under an idempotency claim its ids are derived from the claim,
    so a retry after a crash finds (or has Stripe return) what the first attempt made."""
    _check_request(request, settings)
    hosted = request.ui_mode is UiMode.hosted
    async with db.connection() as conn:
        account, on_authorization = await accounts_service.load_owned_with_siblings(
            conn, principal=principal, account_id=request.account_id
        )
    authorization_id = _ensure_repairable(account, request.scope)
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
            return await response_again(gateway, settings, existing)
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
    try:
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
    except StripeInvalidRequest as refusal:
        not_enabled = HostedRelinkNotEnabled.from_refusal(refusal) if hosted else None
        if not_enabled is None:
            raise
        logger.warning(
            "relink session %s: Stripe refused the hosted parameters (%s); hosted relink "
            "through the API is not enabled for this Stripe account",
            session_id,
            refusal.extensions.get("stripe_param"),
        )
        raise not_enabled from refusal
    if not hosted and not stripe_session.client_secret:
        raise RuntimeError("Stripe returned a session without a client_secret")
    if request.delivery is Delivery.url and not stripe_session.url:
        raise RuntimeError("Stripe returned a hosted session without a url")
    async with db.connection() as conn:
        row = await repository.insert(
            conn,
            session_id=session_id,
            stripe_session_id=stripe_session.id,
            customer_id=principal.customer_id,
            scope=request.scope,
            authorization_id=authorization_id,
            account_id=account.id,
            ui_mode=request.ui_mode,
            permissions=stripe_session.permissions,
            return_url=request.return_url,
            accounts_at_start={sibling.id: sibling.link_health for sibling in on_authorization},
            delivery=request.delivery,
            return_token_sha256=token_hash,
            # An emailed relink is a prompt (a reminder's, or an operator's), not the
            # customer starting one.
            started=request.delivery is not Delivery.email,
        )
    logger.info(
        "relink session %s created (stripe %s, scope %s, account %s, %s%s)",
        row.id,
        row.stripe_session_id,
        row.scope.value,
        row.account_id,
        row.ui_mode.value,
        f" by {row.delivery.value}" if row.delivery else "",
    )
    return _created(row, stripe_session, settings)


async def response_again(
    gateway: StripeGateway, settings: Settings, row: RelinkSessionRow
) -> CreatedSession:
    """A created session's response rebuilt: the secret (and hosted url) re-read from
    Stripe, because neither is ever stored."""
    return _created(row, await gateway.retrieve_session(row.stripe_session_id), settings)


def _created(
    row: RelinkSessionRow, stripe_session: FcSession, settings: Settings
) -> CreatedSession:
    common: dict[str, Any] = {
        "id": row.id,
        "stripe_session_id": row.stripe_session_id,
        "scope": row.scope,
        "account_id": row.account_id,
        "authorization_id": row.authorization_id,
        "status": row.status,
        "created_at": row.created_at,
    }
    if row.ui_mode is UiMode.modal:
        if not stripe_session.client_secret:
            raise _over(row)
        return RelinkSessionCreatedModal(
            **common,
            ui_mode=UiMode.modal,
            client_secret=stripe_session.client_secret,
            publishable_key=_publishable_key(settings),
            delivery=None,
            url=None,
        )
    # Hosted sessions are finished on Stripe's page: no secret leaves this server.
    hosted = {
        **common,
        "ui_mode": UiMode.hosted,
        "client_secret": None,
        "publishable_key": settings.stripe_publishable_key,
    }
    if row.delivery is Delivery.email:
        return RelinkSessionCreatedHostedEmail(**hosted, delivery=Delivery.email, url=None)
    # Stripe drops the url once the session is over.
    if not stripe_session.url:
        raise _over(row)
    return RelinkSessionCreatedHostedUrl(**hosted, delivery=Delivery.url, url=stripe_session.url)


def _over(row: RelinkSessionRow) -> RelinkSessionOver:
    return RelinkSessionOver(
        f"Relink session {row.id} is over at Stripe, so what it handed out cannot be given "
        "again; read it with GET /v1/relink-sessions/{id}, or start a new relink with a new "
        "Idempotency-Key."
    )
