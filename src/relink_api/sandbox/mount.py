"""Attach the sandbox to an app: its routers, its error envelope, the Stripe.js stand-in and
the hosted relink page."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse

from relink_api.sandbox import api, bank, control, hosted
from relink_api.sandbox.wire import StripeApiError, error_response

STAND_IN = Path(__file__).parent / "assets" / "stripe.js"


def mount_sandbox(app: FastAPI) -> None:
    async def on_stripe_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StripeApiError)
        return error_response(exc, stripe_version=request.headers.get("stripe-version"))

    app.add_exception_handler(StripeApiError, on_stripe_error)
    app.include_router(api.router)
    app.include_router(bank.router)
    app.include_router(control.router)
    app.include_router(hosted.router)

    @app.get("/sandbox/stripe.js", include_in_schema=False)
    async def stripe_js() -> FileResponse:
        return FileResponse(
            STAND_IN,
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )
