"""Sandbox controls: make Stripe do what it would do on its own (break a link, warn of an
expiry), and make demo customers. Each change is announced by webhook, as Stripe would."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from relink_api.auth import mint_token
from relink_api.gateway.objects import INACTIVE_CAUSES
from relink_api.sandbox import (
    deactivations,
    demo,
    payment_method_changes,
    store,
    tokenized,
    world,
)
from relink_api.sandbox.access import local_or_operator
from relink_api.sandbox.outbox import Outbox
from relink_api.sandbox.wire import invalid, new_id
from relink_api.web.deps import DatabaseDep, SettingsDep

router = APIRouter(
    prefix="/sandbox/control",
    include_in_schema=False,
    dependencies=[Depends(local_or_operator)],
)


class Deactivation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cause: str = Field(default="access_expired", pattern="^(" + "|".join(INACTIVE_CAUSES) + ")$")
    action: str = Field(default="relink_required", pattern="^(relink_required|none)$")


class ExpectedDeactivation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: date


class ExpirySoon(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Soon: within the 30 days in which Stripe's hosted relink counts a TAN as expiring.
    days: int = Field(default=7, ge=1, le=30)


class SetupFailure(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(default="bank_account_unusable", pattern="^[a-z][a-z_]{0,63}$")


def _outbox(request: Request) -> Outbox:
    outbox: Outbox = request.app.state.sandbox_outbox
    return outbox


async def _deactivation(body: Deactivation | None = None) -> Deactivation:
    return body or Deactivation()


DeactivationBody = Annotated[Deactivation, Depends(_deactivation)]


@router.post("/demo-customers")
async def create_demo_customer(
    request: Request, db: DatabaseDep, settings: SettingsDep
) -> dict[str, Any]:
    async with db.transaction() as conn:
        created = await demo.create_demo_customer(conn)
    # The app learns of the accounts by webhook; deliver them before answering, so the
    # page URL shows every account at once.
    await _outbox(request).deliver_due()
    token = mint_token(settings, created["customer_id"], ttl_seconds=12 * 3600)
    base = settings.public_base_url or ""
    return {**created, "token": token, "page_url": f"{base}/#token={token}"}


# A broken link takes its tokenized account numbers with it, and a reactivation brings new
# ones: each change of numbers is announced (``tokenized``).


@router.post("/accounts/{account_id}/deactivate")
async def deactivate_account(
    account_id: str, db: DatabaseDep, change: DeactivationBody
) -> dict[str, Any]:
    async with db.transaction() as conn, tokenized.announced(conn, [account_id]):
        return await world.deactivate_account(
            conn, account_id, cause=change.cause, action=change.action
        )


@router.post("/accounts/{account_id}/disconnect")
async def disconnect_account(account_id: str, db: DatabaseDep) -> dict[str, Any]:
    async with db.transaction() as conn, tokenized.announced(conn, [account_id]):
        return await world.disconnect_account(conn, account_id)


@router.post("/accounts/{account_id}/reactivate")
async def reactivate_account(account_id: str, db: DatabaseDep) -> dict[str, Any]:
    async with db.transaction() as conn, tokenized.reactivating(conn, [account_id]):
        return await world.reactivate_account(conn, account_id)


@router.post("/authorizations/{authorization_id}/deactivate")
async def deactivate_authorization(
    authorization_id: str, db: DatabaseDep, change: DeactivationBody
) -> dict[str, Any]:
    async with db.transaction() as conn:
        on_it = await tokenized.connected_accounts(conn, authorization_id)
        async with tokenized.announced(conn, on_it):
            account_ids = await world.deactivate_authorization(
                conn, authorization_id, cause=change.cause, action=change.action
            )
    return {"authorization": authorization_id, "accounts": account_ids}


@router.post("/authorizations/{authorization_id}/reactivate")
async def reactivate_authorization(authorization_id: str, db: DatabaseDep) -> dict[str, Any]:
    async with db.transaction() as conn:
        on_it = await tokenized.connected_accounts(conn, authorization_id)
        async with tokenized.reactivating(conn, on_it):
            account_ids = await world.reactivate_authorization(conn, authorization_id)
    return {"authorization": authorization_id, "accounts": account_ids}


@router.post("/accounts/{account_id}/account-numbers/expire-soon")
async def account_numbers_expire_soon(
    account_id: str, db: DatabaseDep, body: ExpirySoon | None = None
) -> dict[str, Any]:
    """The account's tokenized numbers expire in ``days`` days."""
    async with db.transaction() as conn:
        return await tokenized.warn_expiry(conn, account_id, days=(body or ExpirySoon()).days)


@router.post("/accounts/{account_id}/account-numbers/expire")
async def account_numbers_expire(account_id: str, db: DatabaseDep) -> dict[str, Any]:
    """The account's tokenized numbers expire now; the account needs a relink."""
    async with db.transaction() as conn:
        return await tokenized.expire(conn, account_id)


@router.post("/payment-methods/{payment_method_id}/detach")
async def detach_payment_method(payment_method_id: str, db: DatabaseDep) -> dict[str, Any]:
    """Detach the payment method from its customer, as the business would at Stripe."""
    async with db.transaction() as conn:
        return await payment_method_changes.detach(conn, payment_method_id)


@router.post("/accounts/{account_id}/expected-deactivation")
async def expected_deactivation(
    account_id: str, body: ExpectedDeactivation, db: DatabaseDep
) -> dict[str, Any]:
    moment = datetime(body.date.year, body.date.month, body.date.day, tzinfo=UTC)
    if moment <= datetime.now(tz=UTC):
        raise invalid("The expected deactivation date must be in the future.", param="date")
    async with db.transaction() as conn:
        return await deactivations.set_expected_deactivation(
            conn, account_id, expected=int(moment.timestamp())
        )


class ClockAdvance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(ge=1, le=3650)


@router.post("/clock/advance")
async def advance_clock(body: ClockAdvance, db: DatabaseDep) -> dict[str, Any]:
    """Move the sandbox's clock: deactivation notices and deactivations come due."""
    async with db.transaction() as conn:
        return await deactivations.advance_clock(conn, days=body.days)


class EndpointVersion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_version: str


@router.get("/webhook-endpoint")
async def webhook_endpoint(request: Request, db: DatabaseDep) -> dict[str, Any]:
    async with db.connection() as conn:
        return await _outbox(request).endpoint(conn)


@router.post("/webhook-endpoint")
async def set_webhook_endpoint_version(
    request: Request, body: EndpointVersion, db: DatabaseDep
) -> dict[str, Any]:
    """Render the events delivered from now on at another API version."""
    async with db.transaction() as conn:
        return await _outbox(request).set_api_version(conn, body.api_version)


@router.post("/accounts/{account_id}/fail-next-setup")
async def fail_next_setup(
    account_id: str, db: DatabaseDep, body: SetupFailure | None = None
) -> dict[str, Any]:
    """The next SetupIntent confirmation for a payment method from this account fails."""
    failure = body or SetupFailure()
    async with db.transaction() as conn:
        await world.load(conn, account_id, type="account")
        armed = await store.find(conn, type="setup_failure", lookup=account_id, for_update=True)
        await store.put(
            conn,
            {
                "id": armed["id"] if armed else new_id("sfail"),
                "object": "sandbox.setup_failure",
                "account": account_id,
                "code": failure.code,
            },
            type="setup_failure",
            lookup=account_id,
        )
    return {"account": account_id, "code": failure.code}


@router.get("/emails")
async def list_emails(
    db: DatabaseDep, to: str | None = None, session: str | None = None
) -> dict[str, Any]:
    """The emails Stripe would have sent (hosted relink links), newest first."""
    fields = {key: value for key, value in (("to", to), ("session", session)) if value is not None}
    async with db.connection() as conn:
        emails = await store.list_matching(conn, type="email", fields=fields, limit=100)
    return {"object": "list", "data": emails}


@router.post("/outbox/flush")
async def flush_outbox(request: Request, db: DatabaseDep) -> dict[str, int]:
    delivered = await _outbox(request).deliver_due()
    async with db.connection() as conn:
        pending = await store.pending_count(conn)
    return {"delivered": delivered, "pending": pending}


@router.get("/outbox")
async def list_outbox(db: DatabaseDep) -> dict[str, Any]:
    async with db.connection() as conn:
        events = await store.list_events(conn, limit=200)
    return {"data": events}
