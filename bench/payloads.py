"""The requests wrk replays (bench/lua/replay.lua): signed webhook events, and bearer tokens
with relink-session bodies. Pure functions plus the file writer; nothing here talks to a
server."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jwt

from bench.accounts import fc_account

API_VERSION = "2026-09-30.preview"


def stripe_signature(body: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header Stripe sends with ``body``: HMAC-SHA256 of
    ``"<timestamp>.<body>"`` keyed with the endpoint's ``whsec_…`` secret."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def account_created_event(account: dict[str, Any], created: int) -> bytes:
    """A ``financial_connections.account.created`` event carrying ``account``, with a new id."""
    event = {
        "id": "evt_" + secrets.token_hex(12),
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {"object": account},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "financial_connections.account.created",
    }
    return json.dumps(event, separators=(",", ":")).encode()


# New accounts per customer in figure 1's events, as figure 4 spreads its accounts: a run
# adds ~150 k accounts, and one customer owning them all skews PostgreSQL's statistics of
# `customer_id` as no deployment's would (bench/README.md, figure 2 after an ingest).
ACCOUNTS_PER_CUSTOMER = 25


def signed_events(count: int, *, secret: str, customer: str) -> Iterable[tuple[str, bytes]]:
    """``count`` unique events, each a new account of a customer named ``customer`` and a
    number (``ACCOUNTS_PER_CUSTOMER`` each), signed now: the receiver accepts them for its
    tolerance (300 s by default), so a round's file is written just before the round."""
    now = int(time.time())
    batch = secrets.token_hex(4)
    for n in range(count):
        # Each customer's accounts come from one bank login of theirs.
        number = f"{batch}{n // ACCOUNTS_PER_CUSTOMER:06d}"
        account = fc_account(
            f"fca_hook{batch}{n:07d}",
            customer=f"{customer}{number}",
            authorization=f"fcauth_hook{number}",
        )
        body = account_created_event(account, now)
        yield stripe_signature(body, secret, now), body


def bearer_token(customer: str, secret: str, *, lifetime: int = 6 * 3600) -> str:
    """An HS256 JWT naming ``customer`` as relink-api's default claim expects."""
    claims = {"stripe_customer": customer, "exp": int(time.time()) + lifetime}
    return jwt.encode(claims, secret, algorithm="HS256")


def write_lines(path: Path, entries: Iterable[tuple[str, bytes]]) -> int:
    """Write ``<header value><TAB><body>`` lines for replay.lua; how many were written.
    Compact JSON holds no raw tab or newline, so neither can split a line."""
    count = 0
    with path.open("wb") as out:
        for header, body in entries:
            out.write(header.encode() + b"\t" + body + b"\n")
            count += 1
    return count
