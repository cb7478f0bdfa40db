"""Every URL the sandbox's Stripe does not serve: Stripe's 404 (after the key is checked)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from relink_api.sandbox.wire import StripeApiError

router = APIRouter(include_in_schema=False)


@router.api_route("/{path:path}", methods=["GET", "POST", "DELETE", "PUT", "PATCH"])
async def unknown_endpoint(path: str, request: Request) -> JSONResponse:
    raise StripeApiError(
        404,
        f"Unrecognized request URL ({request.method}: /{path}). Please see "
        "https://stripe.com/docs or we can help at https://support.stripe.com/.",
    )
