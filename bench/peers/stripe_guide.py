"""Figure 3's peer: the relink handler as Stripe's guide writes it, a Flask route calling the
synchronous SDK, served by gunicorn with its default workers (one sync worker):

    gunicorn --chdir <repo> bench.peers.stripe_guide:app

It answers the same request as relink-api's ``POST /v1/relink-sessions`` (``{"account_id":
…}``), against the same Stripe stand-in. The account's customer and authorization come from
a JSON file the harness writes (``PEER_ACCOUNTS``), standing in for the application's own
lookup; like the guide, it checks no caller and keeps no record. It runs in a virtual
environment of its own (scripts/bench makes it), with Flask, gunicorn and the stripe SDK.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import stripe
from flask import Flask, jsonify, request  # type: ignore[import-not-found,unused-ignore]

stripe.api_key = os.environ["STRIPE_SECRET_KEY"]
stripe.api_base = os.environ["STRIPE_API_BASE"]
stripe.api_version = os.environ["STRIPE_API_VERSION"]
# account id -> [customer id, authorization id]
ACCOUNTS: dict[str, list[str]] = json.loads(Path(os.environ["PEER_ACCOUNTS"]).read_text())

app = Flask(__name__)


@app.post("/v1/relink-sessions")  # type: ignore[untyped-decorator,unused-ignore]
def create_relink_session() -> Any:
    """Create the relink session and hand its client secret to the client."""
    account_id = request.get_json()["account_id"]
    customer, authorization = ACCOUNTS[account_id]
    session = stripe.financial_connections.Session.create(
        account_holder={"type": "customer", "customer": customer},
        permissions=["payment_method"],
        relink_options={"authorization": authorization, "account": account_id},
    )
    return jsonify(client_secret=session.client_secret), 201
