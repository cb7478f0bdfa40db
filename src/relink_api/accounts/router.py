"""HTTP routes for accounts and authorizations."""

from __future__ import annotations

from fastapi import APIRouter, Response

from relink_api.accounts import service
from relink_api.accounts.health_filter import HealthFilter, parse_health
from relink_api.accounts.list_route import ListAccountsRoute
from relink_api.accounts.schemas import AccountList, AccountRead, AuthorizationRead
from relink_api.pagination import DEFAULT_PAGE_SIZE
from relink_api.web.deps import CUSTOMER_RATE_LIMIT, DatabaseDep, PrincipalDep, StripeDep
from relink_api.web.inputs import STRICT_QUERY
from relink_api.web.params import AccountId, AuthorizationId, Cursor, Limit
from relink_api.web.responses import body_link, link, problem_responses
from relink_api.web.security import CUSTOMER_AUTH

router = APIRouter(dependencies=[*CUSTOMER_AUTH, STRICT_QUERY])

_FIRST = "$response.body#/data/0/id"
_ITS_ID = "$response.body#/id"


async def list_accounts(
    principal: PrincipalDep,
    db: DatabaseDep,
    health: HealthFilter = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> Response:
    # The service writes the page's JSON itself (what `AccountList` would give, documented
    # as the route's `response_model`), so FastAPI only sends it.
    body = await service.list_accounts(
        db, principal=principal, health=parse_health(health), cursor=cursor, limit=limit
    )
    return Response(body, media_type="application/json")


router.add_api_route(
    "/v1/accounts",
    list_accounts,
    methods=["GET"],
    route_class_override=ListAccountsRoute,
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
                "GetFirstAccount": link(
                    "getAccount", "The first account of the page.", account_id=_FIRST
                ),
                "RelinkFirstAccount": body_link(
                    "createRelinkSession",
                    "Repair the first account of the page.",
                    account_id=_FIRST,
                ),
            }
        },
        **problem_responses(400, 401, 422, 500, 503),
    },
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
                "RelinkAccount": body_link(
                    "createRelinkSession", "Repair this account.", account_id=_ITS_ID
                ),
                "RefreshAccount": link(
                    "refreshAccount", "Re-read this account from Stripe.", account_id=_ITS_ID
                ),
                "GetAuthorization": link(
                    "getAuthorization",
                    "The account's authorization, as Stripe has it now.",
                    authorization_id="$response.body#/authorization_id",
                ),
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
    authorization_id: AuthorizationId, principal: PrincipalDep, db: DatabaseDep, stripe: StripeDep
) -> AuthorizationRead:
    return await service.get_authorization(
        db, stripe, principal=principal, authorization_id=authorization_id
    )
