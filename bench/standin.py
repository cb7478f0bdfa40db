"""A Stripe stand-in for the benchmark: only the calls the measured routes make, in Stripe's
shapes, each answered after a fixed latency.

Run as its own process (``python -m bench.standin --port 8100 --latency-ms 200``) so that
what it costs never comes out of the measured server's CPU. It keeps nothing: a session
it is asked to retrieve is rebuilt from its id.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SESSIONS_PATH = "/v1/financial_connections/sessions"


def fc_session(session_id: str, params: dict[str, str]) -> dict[str, Any]:
    """A new ``financial_connections.session`` as Stripe answers its create, from the form
    params the SDK sent (``relink_options[account]=…``, ``permissions[0]=…``)."""
    customer = params.get("account_holder[customer]")
    permissions = [value for key, value in sorted(params.items()) if key.startswith("permissions[")]
    return {
        "id": session_id,
        "object": "financial_connections.session",
        "livemode": False,
        "account_holder": (
            {"type": "customer", "customer": customer, "customer_account": None}
            if customer
            else None
        ),
        "accounts": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": "/v1/financial_connections/accounts",
        },
        "bank_account_token": None,
        "client_secret": f"{session_id}_secret_{secrets.token_hex(12)}",
        "filters": {"account_subcategories": None, "country": "US"},
        "hosted": None,
        "limits": {"accounts": 1},
        "manual_entry": None,
        "permissions": permissions or ["payment_method"],
        "prefetch": [],
        "relink_options": {
            "authorization": params.get("relink_options[authorization]"),
            "account": params.get("relink_options[account]"),
        },
        "relink_result": None,
        "return_url": params.get("return_url"),
        "status": "pending",
        "status_details": None,
        "ui_mode": "modal",
        "url": None,
    }


class StandIn:
    """The stand-in's routes, answering after ``latency`` seconds."""

    def __init__(self, latency: float) -> None:
        self.latency = latency

    def _answer(self, body: dict[str, Any]) -> Response:
        return Response(
            json.dumps(body),
            media_type="application/json",
            headers={"Request-Id": "req_" + secrets.token_hex(7)},
        )

    async def create_session(self, request: Request) -> Response:
        params = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        await asyncio.sleep(self.latency)
        return self._answer(fc_session("fcsess_" + secrets.token_hex(12), params))

    async def retrieve_session(self, request: Request) -> Response:
        await asyncio.sleep(self.latency)
        return self._answer(fc_session(request.path_params["session_id"], {}))

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(SESSIONS_PATH, self.create_session, methods=["POST"]),
                Route(SESSIONS_PATH + "/{session_id}", self.retrieve_session, methods=["GET"]),
            ]
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    args = parser.parse_args()
    app = StandIn(args.latency_ms / 1000).app()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
