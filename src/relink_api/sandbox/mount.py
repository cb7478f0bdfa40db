"""Attach the sandbox to an app: its routers, its error envelope, the Stripe.js stand-in and
the hosted relink page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse

from relink_api.sandbox import bank, control, hosted, receiver_page
from relink_api.sandbox.stripe_api import (
    accounts,
    payment_methods,
    sessions,
    setup_intents,
    unknown,
)
from relink_api.sandbox.stripe_api.auth import known_version, secret_key
from relink_api.sandbox.wire import StripeApiError, error_response

ASSETS = Path(__file__).parent / "assets"
# The Stripe.js stand-in: the script a page loads, and the bank's modal it imports when a
# flow starts.
STAND_IN = {"stripe.js": ASSETS / "stripe.js", "bank-modal.js": ASSETS / "bank-modal.js"}
STRIPE_PREFIX = "/sandbox/stripe"
# Every Stripe resource, then the catch-all that answers Stripe's 404 for any other URL: it
# must come last, or it would shadow the rest.
STRIPE_ROUTERS = (
    sessions.router,
    accounts.router,
    setup_intents.router,
    payment_methods.router,
    unknown.router,
)


def mount_sandbox(app: FastAPI) -> None:
    async def on_stripe_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StripeApiError)
        return error_response(exc, stripe_version=request.headers.get("stripe-version"))

    app.add_exception_handler(StripeApiError, on_stripe_error)
    for router in STRIPE_ROUTERS:
        # The secret key before anything else, then the version, as Stripe checks them,
        # unknown URLs included.
        app.include_router(
            router,
            prefix=STRIPE_PREFIX,
            dependencies=[Depends(secret_key), Depends(known_version)],
        )
    app.include_router(bank.router)
    app.include_router(control.router)
    app.include_router(hosted.router)
    app.include_router(receiver_page.router)

    for name, path in STAND_IN.items():
        app.add_api_route(
            f"/sandbox/{name}", _script(path), methods=["GET"], include_in_schema=False
        )


def _script(path: Path) -> Callable[[], Awaitable[FileResponse]]:
    async def serve() -> FileResponse:
        return FileResponse(
            path,
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    return serve
