"""HTTP routes for payment methods made from newly linked accounts."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from relink_api.pagination import DEFAULT_PAGE_SIZE
from relink_api.payments import reading, setup
from relink_api.payments.schemas import (
    PaymentMethodList,
    PaymentMethodSetupCreate,
    PaymentMethodSetupCreated,
    PaymentMethodSetupRead,
)
from relink_api.web.deps import (
    CUSTOMER_RATE_LIMIT,
    DatabaseDep,
    IdempotencyKeyDep,
    PrincipalDep,
    SettingsDep,
    StripeDep,
    created,
)
from relink_api.web.inputs import STRICT_QUERY
from relink_api.web.params import Cursor, Limit, SessionId
from relink_api.web.responses import (
    create_responses,
    links,
    problem_responses,
)
from relink_api.web.security import CUSTOMER_AUTH

router = APIRouter(tags=["payment-methods"], dependencies=[*CUSTOMER_AUTH, STRICT_QUERY])

_SETUP_LINKS = links(
    {
        "getRelinkPaymentMethod": "Where setting up the payment method stands.",
        "completeRelinkPaymentMethod": "Record the payment method once "
        "confirmUsBankAccountSetup resolves.",
    },
    session_id="$response.body#/relink_session_id",
)
_SETUP_PROBLEM_EXAMPLES = {
    409: (
        "payment-method-not-needed",
        "This relink needs no new payment method",
        "This relink repaired the account in place.",
    ),
}


@router.post(
    "/v1/relink-sessions/{session_id}/payment-method",
    response_model=PaymentMethodSetupCreated,
    status_code=status.HTTP_201_CREATED,
    operation_id="createRelinkPaymentMethod",
    summary="Start setting up a payment method from the account a relink linked",
    description="Only after a relink whose outcome is `new_account`, or that replaced an "
    "unrepairable account with another (`next_step: set_up_payment_method`). Returns the "
    "SetupIntent's client secret for `confirmUsBankAccountSetup` and the mandate text to "
    "show first. Calling again returns the same SetupIntent until it succeeds or fails. "
    "Safe to retry with an `Idempotency-Key`.",
    dependencies=[CUSTOMER_RATE_LIMIT],
    responses=create_responses(
        _SETUP_LINKS,
        *(400, 401, 404, 409, 422, 429, 500, 502, 503),
        examples=_SETUP_PROBLEM_EXAMPLES,
    ),
)
async def create_payment_method(
    session_id: SessionId,
    body: PaymentMethodSetupCreate,
    response: Response,
    principal: PrincipalDep,
    db: DatabaseDep,
    stripe: StripeDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyDep,
) -> PaymentMethodSetupCreated:
    return created(
        response,
        await setup.start_setup(
            db,
            stripe,
            settings,
            principal=principal,
            session_id=session_id,
            request=body,
            idempotency_key=idempotency_key,
        ),
    )


@router.post(
    "/v1/relink-sessions/{session_id}/payment-method/complete",
    response_model=PaymentMethodSetupRead,
    operation_id="completeRelinkPaymentMethod",
    summary="Record the payment method, from Stripe's copy of the SetupIntent",
    description="Call after `confirmUsBankAccountSetup` resolves. Nothing the client says "
    "is trusted: the SetupIntent is read from Stripe. Stripe's `setup_intent.*` webhooks "
    "record the same result if they arrive first.",
    dependencies=[CUSTOMER_RATE_LIMIT],
    responses={
        200: {"links": {"GetRelinkPaymentMethod": _SETUP_LINKS["GetRelinkPaymentMethod"]}},
        **problem_responses(401, 404, 422, 429, 500, 502, 503),
    },
)
async def complete_payment_method(
    session_id: SessionId, principal: PrincipalDep, db: DatabaseDep, stripe: StripeDep
) -> PaymentMethodSetupRead:
    return await reading.complete_setup(db, stripe, principal=principal, session_id=session_id)


@router.get(
    "/v1/relink-sessions/{session_id}/payment-method",
    response_model=PaymentMethodSetupRead,
    operation_id="getRelinkPaymentMethod",
    summary="Where setting up the relink's payment method stands",
    description="The SetupIntent as last read from Stripe: `pending`, `succeeded` (with the "
    "payment method), `failed` (with Stripe's `last_setup_error`) or `canceled`. 404 until "
    "a setup was started for the session.",
    responses=problem_responses(401, 404, 422, 500, 503),
)
async def get_payment_method_setup(
    session_id: SessionId, principal: PrincipalDep, db: DatabaseDep
) -> PaymentMethodSetupRead:
    return await reading.get_setup(db, principal=principal, session_id=session_id)


@router.get(
    "/v1/payment-methods",
    response_model=PaymentMethodList,
    operation_id="listPaymentMethods",
    summary="List the payment methods relink-api set up for the caller",
    description="Each with the Financial Connections account it draws on, the payment method "
    "it replaces, and whether it can be charged now.",
    responses=problem_responses(400, 401, 422, 500, 503),
)
async def list_payment_methods(
    principal: PrincipalDep,
    db: DatabaseDep,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> PaymentMethodList:
    return await reading.list_payment_methods(db, principal=principal, cursor=cursor, limit=limit)
