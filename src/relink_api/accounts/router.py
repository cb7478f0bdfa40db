"""HTTP routes for accounts and authorizations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from relink_api.accounts import service
from relink_api.accounts.schemas import AccountList, AccountRead, AuthorizationRead, LinkHealth
from relink_api.deps import DatabaseDep, PrincipalDep, StripeDep
from relink_api.errors import ValidationFailed, problem_responses
from relink_api.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

router = APIRouter()

AccountId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=255,
        description="Stripe's Financial Connections account id.",
        examples=["fca_1PZ3xY2eZvKYlo2C"],
    ),
]


def parse_health(values: list[str] | None) -> list[LinkHealth] | None:
    # Accept both ?health=a&health=b and ?health=a,b.
    if not values:
        return None
    parsed: list[LinkHealth] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                parsed.append(LinkHealth(part))
            except ValueError:
                allowed = ", ".join(health.value for health in LinkHealth)
                raise ValidationFailed(
                    f"Unknown link health {part!r}; use one or more of: {allowed}.",
                    extensions={"errors": [{"loc": ["query", "health"], "msg": "unknown value"}]},
                ) from None
    return parsed or None


@router.get(
    "/v1/accounts",
    response_model=AccountList,
    operation_id="listAccounts",
    tags=["accounts"],
    summary="List the caller's linked accounts",
    responses=problem_responses(400, 401, 422),
)
async def list_accounts(
    principal: PrincipalDep,
    db: DatabaseDep,
    health: Annotated[
        list[str] | None,
        Query(
            description="Only accounts with this link health; repeat or comma-separate.",
            examples=["relink_required,expiring"],
        ),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
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
    responses=problem_responses(401, 404),
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
    responses=problem_responses(401, 404, 422, 500, 502, 503),
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
    tags=["authorizations"],
    responses=problem_responses(401, 404, 500, 502, 503),
)
async def get_authorization(
    authorization_id: Annotated[
        str, Path(min_length=1, max_length=255, examples=["fcauth_1PZ3xY2eZvKYlo2C"])
    ],
    principal: PrincipalDep,
    db: DatabaseDep,
    stripe: StripeDep,
) -> AuthorizationRead:
    return await service.get_authorization(
        db, stripe, principal=principal, authorization_id=authorization_id
    )
