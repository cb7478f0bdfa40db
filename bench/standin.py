"""A Stripe stand-in for the benchmark: only the calls the measured routes and ``relink-api
sync`` make, in Stripe's shapes, each answered after a fixed latency, optionally behind
Stripe's rate limit.

Run as its own process (``python -m bench.standin --port 8100 --latency-ms 200
[--rate-limit 25]``) so that what it costs never comes out of the measured server's CPU. It
keeps nothing: a session, an account or a payment method it is asked to retrieve is rebuilt
from its id. ``GET /_standin/stats`` (not a Stripe route) counts what it answered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.accounts import fc_account

SESSIONS_PATH = "/v1/financial_connections/sessions"
ACCOUNTS_PATH = "/v1/financial_connections/accounts"
PAYMENT_METHODS_PATH = "/v1/payment_methods"
# Stripe's answer to a request over its rate limit (HTTP 429; docs/stripe.md §7).
RATE_LIMITED = {
    "error": {
        "type": "invalid_request_error",
        "code": "rate_limit",
        "message": "Request rate limit exceeded. You can learn more about rate limits here "
        "https://stripe.com/docs/rate-limits.",
        "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
    }
}


def account_for(account_id: str) -> dict[str, Any]:
    """The active account ``fca_<n>`` of customer ``cus_<n>`` and authorization
    ``fcauth_<n>``: what the stand-in answers for it, and what a benchmark stores."""
    suffix = account_id.removeprefix("fca_")
    return fc_account(account_id, customer=f"cus_{suffix}", authorization=f"fcauth_{suffix}")


def payment_method_for(payment_method_id: str) -> dict[str, Any]:
    """The saved, unblocked ``us_bank_account`` PaymentMethod ``pm_<n>`` made from
    ``fca_<n>`` for ``cus_<n>``."""
    suffix = payment_method_id.removeprefix("pm_")
    return {
        "id": payment_method_id,
        "object": "payment_method",
        "billing_details": {"name": "Bench Holder", "email": None},
        "created": 1_700_000_000,
        "customer": f"cus_{suffix}",
        "livemode": False,
        "type": "us_bank_account",
        "us_bank_account": {
            "account_holder_type": "individual",
            "account_type": "checking",
            "bank_name": "Bench Bank",
            "financial_connections_account": f"fca_{suffix}",
            "last4": suffix[-4:].rjust(4, "0"),
            "networks": {"preferred": "ach", "supported": ["ach"]},
            "routing_number": "110000000",
            "status_details": {},
        },
    }


@dataclass(slots=True)
class TokenBucket:
    """Stripe's limit as the stand-in models it: ``rate`` requests a second, with at most
    one second's worth at once (a bucket of ``rate`` tokens, refilled continuously)."""

    rate: float
    tokens: float = field(init=False)
    last: float | None = None

    def __post_init__(self) -> None:
        self.tokens = self.rate

    def take(self, now: float) -> bool:
        """Whether a request arriving at ``now`` (seconds) is within the limit."""
        if self.last is not None:
            self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
        self.last = now
        # A hair under one token is float rounding of a whole one (25 times 0.04 s).
        if self.tokens < 1 - 1e-9:
            return False
        self.tokens -= 1
        return True


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
    """The stand-in's routes, answering after ``latency`` seconds; over ``rate_limit``
    requests a second (if set), a 429 at once, as Stripe answers."""

    def __init__(
        self,
        latency: float,
        rate_limit: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.latency = latency
        self.clock = clock
        self.bucket = TokenBucket(rate_limit) if rate_limit else None
        self.answered: Counter[str] = Counter()
        self.rate_limited = 0

    def _answer(self, body: dict[str, Any], status: int = 200) -> Response:
        return Response(
            json.dumps(body),
            status_code=status,
            media_type="application/json",
            headers={"Request-Id": "req_" + secrets.token_hex(7)},
        )

    async def _reply(self, request: Request, body: dict[str, Any]) -> Response:
        if self.bucket is not None and not self.bucket.take(self.clock()):
            self.rate_limited += 1
            return self._answer(RATE_LIMITED, status=429)
        await asyncio.sleep(self.latency)
        self.answered[f"{request.method} {request.scope['route'].path}"] += 1
        return self._answer(body)

    async def create_session(self, request: Request) -> Response:
        params = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        return await self._reply(request, fc_session("fcsess_" + secrets.token_hex(12), params))

    async def retrieve_session(self, request: Request) -> Response:
        return await self._reply(request, fc_session(request.path_params["id"], {}))

    async def retrieve_account(self, request: Request) -> Response:
        return await self._reply(request, account_for(request.path_params["id"]))

    async def retrieve_payment_method(self, request: Request) -> Response:
        return await self._reply(request, payment_method_for(request.path_params["id"]))

    async def stats(self, request: Request) -> Response:
        """What it answered, by route, and how many requests it refused with a 429."""
        return self._answer({"answered": dict(self.answered), "rate_limited": self.rate_limited})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(SESSIONS_PATH, self.create_session, methods=["POST"]),
                Route(SESSIONS_PATH + "/{id}", self.retrieve_session, methods=["GET"]),
                Route(ACCOUNTS_PATH + "/{id}", self.retrieve_account, methods=["GET"]),
                Route(PAYMENT_METHODS_PATH + "/{id}", self.retrieve_payment_method),
                Route("/_standin/stats", self.stats, methods=["GET"]),
            ]
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument(
        "--rate-limit", type=float, default=None, help="Requests a second; none by default."
    )
    args = parser.parse_args()
    app = StandIn(args.latency_ms / 1000, args.rate_limit).app()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
