"""HTTP routes of the operator API (an admin key in X-Admin-Key, never a customer token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from relink_api.accounts.router import AccountId, parse_health
from relink_api.admin import service
from relink_api.admin.schemas import (
    AdminAccountList,
    AdminRelinkEmailCreate,
    AdminRelinkEmailCreated,
    AdminSummary,
)
from relink_api.deps import AdminDep, DatabaseDep, SettingsDep, StripeDep
from relink_api.errors import problem_responses
from relink_api.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from relink_api.relink.schemas import RelinkScope

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.get(
    "/accounts",
    response_model=AdminAccountList,
    operation_id="adminListAccounts",
    summary="List accounts of every customer",
    responses=problem_responses(400, 401, 422),
)
async def list_accounts(
    operator: AdminDep,
    db: DatabaseDep,
    health: Annotated[
        list[str] | None,
        Query(
            description="Only accounts with this link health; repeat or comma-separate.",
            examples=["relink_required,expiring"],
        ),
    ] = None,
    customer: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            description="Only this Stripe customer's accounts.",
            examples=["cus_Kmaci5w0veLUJZ"],
        ),
    ] = None,
    institution: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            description="Only accounts at this institution (Stripe's fcinst_… id).",
            examples=["fcinst_StripeBank"],
        ),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
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
    summary="Count accounts by link health, cause and upcoming deactivation",
    responses=problem_responses(401),
)
async def get_summary(operator: AdminDep, db: DatabaseDep) -> AdminSummary:
    return await service.summarize(db)


@router.post(
    "/accounts/{account_id}/relink-email",
    response_model=AdminRelinkEmailCreated,
    status_code=status.HTTP_201_CREATED,
    operation_id="adminSendRelinkEmail",
    summary="Have Stripe email the account's customer a link to repair it",
    responses=problem_responses(401, 404, 409, 422, 500, 501, 502, 503),
)
async def send_relink_email(
    account_id: AccountId,
    response: Response,
    operator: AdminDep,
    db: DatabaseDep,
    stripe: StripeDep,
    settings: SettingsDep,
    body: Annotated[AdminRelinkEmailCreate | None, Body()] = None,
) -> AdminRelinkEmailCreated:
    # Nothing secret is in the body, but it describes one customer's bank link: keep it
    # out of shared caches all the same, like every relink session response.
    response.headers["Cache-Control"] = "no-store"
    return await service.send_relink_email(
        db,
        stripe,
        settings,
        operator=operator,
        account_id=account_id,
        scope=body.scope if body is not None else RelinkScope.account,
    )
