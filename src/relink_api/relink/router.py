"""HTTP routes for relink sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response, status

from relink_api.relink import service
from relink_api.relink.create_route import CreateSessionRoute
from relink_api.relink.create_schemas import (
    CreatedSession,
    RelinkSessionCreate,
    RelinkSessionCreated,
)
from relink_api.relink.schemas import RelinkSessionComplete, RelinkSessionRead
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
from relink_api.web.params import SessionId
from relink_api.web.responses import (
    create_responses,
    links,
    problem_responses,
)
from relink_api.web.security import CUSTOMER_AUTH

router = APIRouter(tags=["relink-sessions"], dependencies=[*CUSTOMER_AUTH, STRICT_QUERY])

# OpenAPI links: what a client (and schemathesis) can call with a session it was given.
_SESSION_LINKS = links(
    {
        "getRelinkSession": "Read the session and, once completed, its outcome.",
        "completeRelinkSession": "Verify with Stripe what the customer did.",
        "createRelinkPaymentMethod": "After a `new_account` outcome: set up a payment method.",
        "getRelinkPaymentMethod": "Where setting up the relink's payment method stands.",
    },
    session_id="$response.body#/id",
)


async def create_relink_session(
    body: RelinkSessionCreate,
    response: Response,
    principal: PrincipalDep,
    db: DatabaseDep,
    stripe: StripeDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyDep,
) -> CreatedSession:
    return created(
        response,
        await service.create_session(
            db,
            stripe,
            settings,
            principal=principal,
            request=body.root,
            idempotency_key=idempotency_key,
        ),
    )


# Added rather than decorated: the decorator takes no route class.
router.add_api_route(
    "/v1/relink-sessions",
    create_relink_session,
    methods=["POST"],
    route_class_override=CreateSessionRoute,
    response_model=RelinkSessionCreated,
    status_code=status.HTTP_201_CREATED,
    operation_id="createRelinkSession",
    summary="Start a relink for one of the caller's accounts",
    description="Creates a Stripe Financial Connections session with `relink_options` for "
    "the account (`scope: account`) or for any eligible checking or savings account at the "
    "same bank (`scope: institution`). Modal sessions return the `client_secret` for "
    "Stripe.js or the mobile SDK, once (it is never stored); hosted sessions return the "
    "Stripe-hosted `url` (`delivery: url`) or neither (`delivery: email`). An account that "
    "relinking cannot repair (healthy, unrepairable, disconnected) is a 409 that says what "
    "to do instead. Safe to retry with an `Idempotency-Key`.",
    dependencies=[CUSTOMER_RATE_LIMIT],
    responses=create_responses(
        {k: v for k, v in _SESSION_LINKS.items() if "Payment" not in k},
        *(400, 401, 404, 409, 422, 429, 500, 501, 502, 503),
    ),
)


_COMPLETE_PROBLEM_EXAMPLES = {
    400: ("bad-request", "Bad Request", "There was an error parsing the body"),
    409: (
        "relink-session-pending",
        "The relink session is still in progress",
        "The customer has not finished this relink yet.",
    ),
}


@router.post(
    "/v1/relink-sessions/{session_id}/complete",
    response_model=RelinkSessionRead,
    operation_id="completeRelinkSession",
    summary="Verify the outcome of a relink with Stripe",
    description="Call when Stripe.js (or the mobile SDK) resolves. The body is what it "
    "returned, as a hint only: the session is read back from Stripe and classified as "
    "`relinked`, `new_account`, `failed` (with Stripe's `failure_reason`) or `cancelled`, "
    "with a `next_step` for the client. A session the customer has not finished is a 409 "
    "(`relink-session-pending`); completing a completed session returns it unchanged. "
    "A body that is not UTF-8 is a 400, one that is not JSON a 422.",
    dependencies=[CUSTOMER_RATE_LIMIT],
    responses={
        200: {"links": _SESSION_LINKS},
        **problem_responses(
            400, 401, 404, 409, 422, 429, 500, 502, 503, examples=_COMPLETE_PROBLEM_EXAMPLES
        ),
    },
)
async def complete_relink_session(
    session_id: SessionId,
    principal: PrincipalDep,
    db: DatabaseDep,
    stripe: StripeDep,
    body: Annotated[RelinkSessionComplete | None, Body()] = None,
) -> RelinkSessionRead:
    return await service.complete_session(
        db, stripe, principal=principal, session_id=session_id, hint=body
    )


@router.get(
    "/v1/relink-sessions/{session_id}",
    response_model=RelinkSessionRead,
    operation_id="getRelinkSession",
    summary="Get a relink session and its outcome",
    description="The stored session: its scope, status and, once completed, the verified "
    "outcome with every account the relink reactivated. Never the client secret.",
    responses=problem_responses(401, 404, 422, 500, 503),
)
async def get_relink_session(
    session_id: SessionId, principal: PrincipalDep, db: DatabaseDep
) -> RelinkSessionRead:
    return await service.get_session(db, principal=principal, session_id=session_id)
