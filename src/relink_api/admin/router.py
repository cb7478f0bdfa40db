"""HTTP routes of the operator API (an admin key in X-Admin-Key, never a customer token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from relink_api.accounts.health_filter import HealthFilter, parse_health
from relink_api.admin import service
from relink_api.admin.schemas import (
    AdminAccountList,
    AdminRelinkEmailCreate,
    AdminRelinkEmailCreated,
    AdminSummary,
)
from relink_api.errors import AdminUnauthorized
from relink_api.pagination import DEFAULT_PAGE_SIZE
from relink_api.ratelimit.errors import RateLimited
from relink_api.relink.schemas import RelinkScope
from relink_api.web.deps import (
    OPERATOR_RATE_LIMIT,
    AdminDep,
    DatabaseDep,
    IdempotencyKeyDep,
    SettingsDep,
    StripeDep,
    created,
)
from relink_api.web.inputs import STRICT_QUERY
from relink_api.web.params import AccountId, Cursor, CustomerFilter, InstitutionFilter, Limit
from relink_api.web.responses import (
    create_responses,
    link,
    links,
    problem_responses,
)

# The 401 an operator route answers: its own problem type, never the customer one.
_ADMIN_UNAUTHORIZED: dict[int, tuple[str, str, str]] = {
    401: (
        AdminUnauthorized.slug,
        AdminUnauthorized.title,
        "No admin API key was sent in the X-Admin-Key header.",
    ),
    # Failed keys are throttled per client address (before the key is checked).
    429: (
        RateLimited.slug,
        RateLimited.title,
        "Too many failed admin API key attempts from this address; retry in 6 seconds.",
    ),
}

# A funnel reaches back half a year at most: older breaks say little about today's prompts.
MAX_FUNNEL_WEEKS = 26

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[STRICT_QUERY])


@router.get(
    "/accounts",
    response_model=AdminAccountList,
    operation_id="adminListAccounts",
    summary="List accounts of every customer",
    description="Every stored account, of every customer and unowned ones, with its "
    "`customer_id` and link health; filtered by health, customer and institution, and paged "
    "like `GET /v1/accounts`.",
    responses={
        200: {
            "links": {
                "SendRelinkEmail": link(
                    "adminSendRelinkEmail",
                    "Email the first account's owner a link to repair it.",
                    account_id="$response.body#/data/0/id",
                )
            }
        },
        **problem_responses(400, 401, 422, 429, 500, 503, examples=_ADMIN_UNAUTHORIZED),
    },
)
async def list_accounts(
    operator: AdminDep,
    db: DatabaseDep,
    health: HealthFilter = None,
    customer: CustomerFilter = None,
    institution: InstitutionFilter = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> AdminAccountList:
    return await service.list_accounts(
        db,
        health=parse_health(health),
        customer_id=customer,
        institution_id=institution,
        cursor=cursor,
        limit=limit,
    )


@router.get(
    "/summary",
    response_model=AdminSummary,
    operation_id="adminGetSummary",
    summary="Count accounts by link health, cause and upcoming deactivation, and the repair funnel",
    description="Link health across every customer, for dashboards and alerts: the total, "
    "counts by health and by cause, expiring accounts by the week they are expected to "
    "stop working (this week and the seven after it, Mondays in UTC), and the repair "
    "funnel: links broken in the last `weeks` weeks, per week and cause, with how many "
    "customers were prompted, started a relink, were repaired (by outcome) or are still "
    "broken, and the median time from break to repair (docs/prompts.md).",
    responses=problem_responses(400, 401, 422, 429, 500, 503, examples=_ADMIN_UNAUTHORIZED),
)
async def get_summary(
    operator: AdminDep,
    db: DatabaseDep,
    weeks: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_FUNNEL_WEEKS,
            description="How many weeks of breaks the funnel counts, this one included.",
        ),
    ] = service.FUNNEL_WEEKS,
) -> AdminSummary:
    return await service.summarize(db, weeks=weeks)


_EMAIL_PROBLEM_EXAMPLES = {
    **_ADMIN_UNAUTHORIZED,
    409: (
        "account-without-owner",
        "This account belongs to no customer yet",
        "fca_123 has no customer to email.",
    ),
}


@router.post(
    "/accounts/{account_id}/relink-email",
    response_model=AdminRelinkEmailCreated,
    status_code=status.HTTP_201_CREATED,
    operation_id="adminSendRelinkEmail",
    summary="Have Stripe email the account's customer a link to repair it",
    description="Creates a hosted relink session with `delivery: email` for the account's "
    "owner: Stripe emails the customer, and the response carries neither a client secret "
    "nor a URL. Needs `RELINK_PUBLIC_BASE_URL` (else 501), like every hosted relink. An "
    "account with no owner, or that relinking cannot repair, is a 409. Safe to retry with "
    "an `Idempotency-Key`. Past the operator's rate limit (or too many failed keys from "
    "one address) it is a 429 with `Retry-After`.",
    dependencies=[OPERATOR_RATE_LIMIT],
    responses=create_responses(
        links(
            {"getRelinkSession": "Follow the session with the customer's token."},
            session_id="$response.body#/id",
        ),
        *(400, 401, 404, 409, 422, 429, 500, 501, 502, 503),
        examples=_EMAIL_PROBLEM_EXAMPLES,
    ),
)
async def send_relink_email(
    account_id: AccountId,
    response: Response,
    operator: AdminDep,
    db: DatabaseDep,
    stripe: StripeDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyDep,
    body: Annotated[AdminRelinkEmailCreate | None, Body()] = None,
) -> AdminRelinkEmailCreated:
    return created(
        response,
        await service.send_relink_email(
            db,
            stripe,
            settings,
            operator=operator,
            account_id=account_id,
            scope=body.scope if body is not None else RelinkScope.account,
            idempotency_key=idempotency_key,
        ),
    )
