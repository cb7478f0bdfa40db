"""Starting and stopping the sandbox inside the server's lifespan."""

from __future__ import annotations

import sys
from contextlib import AsyncExitStack

from fastapi import FastAPI

from relink_api.auth import ADMIN_KEY_HEADER, mint_token
from relink_api.background import run_in_background
from relink_api.db import Database
from relink_api.sandbox import store
from relink_api.sandbox.demo import create_demo_customer
from relink_api.sandbox.outbox import Outbox
from relink_api.sandbox.receiver import RECEIVER_PATH, register_receiver
from relink_api.sandbox.setup import is_loopback, sandbox_admin_key, secrets_path
from relink_api.settings import Settings


async def start_sandbox(
    app: FastAPI, database: Database, settings: Settings, stack: AsyncExitStack
) -> None:
    """Create the sandbox's tables, seed a demo customer on first start, deliver webhooks."""
    async with database.transaction() as conn:
        await store.create_schema(conn)
        demo = await conn.fetchval(
            "SELECT id FROM sandbox.objects WHERE type = 'customer' ORDER BY created_at, id LIMIT 1"
        )
        if demo is None:
            demo = (await create_demo_customer(conn))["customer_id"]
    base = settings.public_base_url or ""
    secret = settings.stripe_webhook_secrets[0].get_secret_value()
    outbox = Outbox(
        database,
        url=f"{base}/v1/webhooks/stripe",
        secret=secret,
        api_version=settings.stripe_api_version,
    )
    stack.push_async_callback(outbox.aclose)
    app.state.sandbox_outbox = outbox
    app.state.sandbox_receiver = await register_receiver(database, settings)
    run_in_background(stack, outbox.run(), name="sandbox-webhooks")
    if not is_loopback(settings.host):
        # Off loopback the log may be read by others (a container's log, a shared terminal):
        # no token and no key in it, only where to find them.
        _announce(
            "\n  Stripe is SIMULATED: this is the relink-api sandbox (no real money, no real "
            f"banks), on {settings.host}.\n"
            f"  Demo customer {demo}. Tokens and keys are not printed off loopback; on this "
            "data folder,\n"
            f"  `relink-api token {demo}` mints a page token (open {base}/#token=…), and the\n"
            "  admin key that the sandbox controls need from other hosts (X-Admin-Key) is in\n"
            f"  {secrets_path(settings)}. See docs/sandbox.md.\n\n"
        )
        return
    token = mint_token(settings, demo, ttl_seconds=12 * 3600)
    admin_key = sandbox_admin_key(settings)
    operator = (
        f"  Operator API, admin key {admin_key}:\n\n"
        f"    curl -H '{ADMIN_KEY_HEADER}: {admin_key}' {base}/v1/admin/summary\n\n"
        if admin_key is not None
        else ""
    )
    _announce(
        "\n  Stripe is SIMULATED: this is the relink-api sandbox (no real money, no real banks).\n"
        f"  Demo customer {demo}. Open the relink page:\n\n"
        f"    {base}/#token={token}\n\n"
        f"{operator}"
        f"  Events for your application are delivered, signed, to a receiver that verifies\n"
        f"  them: {base}{RECEIVER_PATH} (docs/events.md)\n\n"
        f"  Sandbox controls and the Stripe.js stand-in: see docs/sandbox.md ({base}/sandbox/…)\n\n"
    )


def _announce(text: str) -> None:
    # On stdout, flushed at once: stderr is the log (JSON lines unless the console format
    # is chosen), and the banner is for the person at the terminal.
    sys.stdout.write(text)
    sys.stdout.flush()
