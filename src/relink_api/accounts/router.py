"""HTTP routes for accounts and authorizations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from relink_api.accounts import service
from relink_api.accounts.health_filter import (
    HEALTH_QUERY_DESCRIPTION,
    health_parameter_schema,
    parse_health,
)
from relink_api.accounts.schemas import AccountList, AccountRead, AuthorizationRead
from relink_api.pagination import DEFAULT_PAGE_SIZE
from relink_api.web.deps import CUSTOMER_RATE_LIMIT, DatabaseDep, PrincipalDep, StripeDep
from relink_api.web.inputs import STORABLE_TEXT, STRICT_QUERY
from relink_api.web.params import AccountId, Cursor, Limit
from relink_api.web.responses import problem_responses
from relink_api.web.security import CUSTOMER_AUTH

router = APIRouter(dependencies=[*CUSTOMER_AUTH, STRICT_QUERY])


@router.get(
    "/v1/accounts",
    response_model=AccountList,
    operation_id="listAccounts",
    tags=["accounts"],
    summary="List the caller's linked accounts",
    description="The accounts of the customer the token names, oldest id first, each with "
    "its derived `link_health` (`ok`, `expiring`, `relink_required`, `unrepairable`, "
    "`disconnected`), so a client needs no Stripe knowledge to decide what to show. Paged: "
    "pass `next_cursor` back as `cursor` while `has_more` is true.",
    responses={
        200: {
            "links": {
                "GetFirstAccount": {
                    "operationId": "getAccount",
                    "parameters": {"account_id": "$response.body#/data/0/id"},
                    "description": "The first account of the page.",
                },
                "RelinkFirstAccount": {
                    "operationId": "createRelinkSession",
                    "requestBody": {"account_id": "$response.body#/data/0/id"},
                    "description": "Repair the first account of the page.",
                },
            }
        },
        **problem_responses(400, 401, 422, 500, 503),
    },
)
async def list_accounts(
    principal: PrincipalDep,
    db: DatabaseDep,
    health: Annotated[
        list[str] | None,
        Query(
            description=HEALTH_QUERY_DESCRIPTION,
            examples=[["relink_required", "expiring"]],
            json_schema_extra=health_parameter_schema,
        ),
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> AccountList:
    return await service.list_accounts(
        db, principal=principal, health=parse_health(health), cursor=cursor, limit=limit
    )


@router.get(
    "/v1/accounts/{account_id}",
    response_model=AccountRead,
    operation_id="getAccount",
    tags=["accounts"],
    summary="Get one of the caller's accounts",
    description="The account as last recorded (from webhooks, relinks and reconciliation), "
    "with its link health. Another customer's account is a 404, never a 403.",
    responses={
        200: {
            "links": {
                "RelinkAccount": {
                    "operationId": "createRelinkSession",
                    "requestBody": {"account_id": "$response.body#/id"},
                    "description": "Repair this account.",
                },
                "RefreshAccount": {
                    "operationId": "refreshAccount",
                    "parameters": {"account_id": "$response.body#/id"},
                    "description": "Re-read this account from Stripe.",
                },
                "GetAuthorization": {
                    "operationId": "getAuthorization",
                    "parameters": {"authorization_id": "$response.body#/authorization_id"},
                    "description": "The account's authorization, as Stripe has it now.",
                },
            }
        },
        **problem_responses(401, 404, 422, 500, 503),
    },
)
async def get_account(
    account_id: AccountId, principal: PrincipalDep, db: DatabaseDep
) -> AccountRead:
    return await service.get_account(db, principal=principal, account_id=account_id)


@router.post(
    "/v1/accounts/{account_id}/refresh",
    response_model=AccountRead,
    operation_id="refreshAccount",
    tags=["accounts"],
    summary="Re-read an account from Stripe",
    description="Retrieves the account from Stripe at the pinned API version, records any "
    "transition in its history and returns the result. Stripe's refusals keep Stripe's "
    "message (`stripe_code`, `stripe_param`); a rate limit or outage is a 503 or 502 with "
    "`Retry-After`. Too many calls that reach Stripe for one customer are a 429 with "
    "`Retry-After`.",
    dependencies=[CUSTOMER_RATE_LIMIT],
    responses=problem_responses(
        401,
        404,
        422,
        429,
        500,
        502,
        503,
        examples={
            422: ("stripe-invalid-request", "Stripe rejected the request", "No such account."),
            503: (
                "stripe-rate-limited",
                "Stripe is rate limiting this service",
                "Stripe is rate limiting this service; retry shortly.",
            ),
        },
    ),
)
async def refresh_account(
    account_id: AccountId, principal: PrincipalDep, db: DatabaseDep, stripe: StripeDep
) -> AccountRead:
    return await service.refresh_account(db, stripe, principal=principal, account_id=account_id)


@router.get(
    "/v1/authorizations/{authorization_id}",
    response_model=AuthorizationRead,
    operation_id="getAuthorization",
    summary="Get an authorization from Stripe",
    description="The authorization (one login at one bank) as Stripe has it now, with the "
    "caller's accounts on it. 404 unless one of the caller's accounts is on it.",
    tags=["authorizations"],
    dependencies=[CUSTOMER_RATE_LIMIT],
    responses=problem_responses(401, 404, 422, 429, 500, 502, 503),
)
async def get_authorization(
    authorization_id: Annotated[
        str,
        Path(
            min_length=1,
            max_length=255,
            pattern=STORABLE_TEXT,
            description="Stripe's Financial Connections authorization id (fcauth_…).",
            examples=["fcauth_1PZ3xY2eZvKYlo2C"],
        ),
    ],
    principal: PrincipalDep,
    db: DatabaseDep,
    stripe: StripeDep,
) -> AuthorizationRead:
    return await service.get_authorization(
        db, stripe, principal=principal, authorization_id=authorization_id
    )
