"""Financial Connections accounts and authorizations: retrieving them, listing accounts."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from relink_api.sandbox.stripe_api.params import ACCOUNT_HOLDER, page_limit, read_params, required
from relink_api.sandbox.stripe_api.responses import list_page, list_response, retrieve
from relink_api.web.deps import DatabaseDep

router = APIRouter(include_in_schema=False)

ACCOUNTS_URL = "/v1/financial_connections/accounts"
LIST_PARAMS = {
    "account_holder": ACCOUNT_HOLDER,
    "session": True,
    "limit": True,
    "starting_after": True,
    "ending_before": True,
    "expand": True,
}


@router.get("/v1/financial_connections/accounts/{account_id}")
async def retrieve_account(account_id: str, request: Request, db: DatabaseDep) -> JSONResponse:
    return await retrieve(request, db, account_id, type="account")


@router.get("/v1/financial_connections/accounts")
async def list_accounts(request: Request, db: DatabaseDep) -> JSONResponse:
    params = await read_params(request, LIST_PARAMS)
    customer = required(
        (params.get("account_holder") or {}).get("customer"),
        "account_holder[customer]",
        "You must pass account_holder[customer] (the sandbox lists by customer).",
    )
    limit = page_limit(params)
    async with db.connection() as conn:
        page, has_more = await list_page(
            conn,
            params,
            type="account",
            lookup=customer,
            limit=limit,
        )
    return list_response(request, page, has_more=has_more, url=ACCOUNTS_URL)


@router.get("/v1/financial_connections/authorizations/{authorization_id}")
async def retrieve_authorization(
    authorization_id: str, request: Request, db: DatabaseDep
) -> JSONResponse:
    return await retrieve(request, db, authorization_id, type="authorization")
