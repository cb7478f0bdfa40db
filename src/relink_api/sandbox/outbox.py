"""Webhook delivery, as Stripe does it: signed, in order, retried until answered 2xx, each
event rendered at the webhook endpoint's API version."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from relink_api.db import Connection, Database
from relink_api.sandbox import deactivations, store, versions
from relink_api.sandbox.wire import invalid
from relink_api.webhooks.signature import sign

logger = logging.getLogger(__name__)

_BATCH = 20
_LEASE = timedelta(seconds=30)
_IDLE_SECONDS = 0.25
_MAX_BACKOFF_SECONDS = 60
_ENDPOINT = "we_sandbox"


class Outbox:
    """Delivers queued sandbox events to the app's own webhook endpoint."""

    def __init__(self, db: Database, *, url: str, secret: str, api_version: str) -> None:
        self._db = db
        self._url = url
        self._secret = secret
        # The endpoint's version until the control sets another (kept in the sandbox).
        self._api_version = api_version
        self._client = httpx.AsyncClient(timeout=10)
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def endpoint(self, conn: Connection) -> dict[str, Any]:
        """The webhook endpoint events go to, as Stripe shows a ``webhook_endpoint``."""
        stored = await store.get(conn, _ENDPOINT, type="webhook_endpoint")
        return {
            "id": _ENDPOINT,
            "object": "webhook_endpoint",
            "api_version": (stored or {}).get("api_version", self._api_version),
            "enabled_events": ["*"],
            "livemode": False,
            "status": "enabled",
            "url": self._url,
        }

    async def set_api_version(self, conn: Connection, version: str) -> dict[str, Any]:
        """Render the events delivered from now on at ``version``, which Stripe must know."""
        if version not in versions.KNOWN:
            raise invalid(f"Invalid Stripe API version: {version}", param="api_version")
        await store.put(
            conn,
            {"id": _ENDPOINT, "object": "webhook_endpoint", "api_version": version},
            type="webhook_endpoint",
        )
        return await self.endpoint(conn)

    async def deliver_due(self) -> int:
        """Send what has come due on the sandbox's clock, then every due event once;
        returns how many were accepted."""
        # One round at a time in this process; other replicas are kept out by the lease.
        async with self._lock:
            async with self._db.transaction() as conn:
                await deactivations.send_due(conn)
                version = (await self.endpoint(conn))["api_version"]
            delivered = 0
            while True:
                async with self._db.transaction() as conn:
                    batch = await store.claim_events(
                        conn, lease_until=datetime.now(tz=UTC) + _LEASE, limit=_BATCH
                    )
                if not batch:
                    return delivered
                for event in batch:
                    payload = {**versions.render(event["payload"], version), "api_version": version}
                    delivered += int(await self._send(event["id"], payload, event["attempts"]))

    async def _send(self, event_id: str, payload: dict[str, object], attempts: int) -> bool:
        body = json.dumps(payload, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": f"t={timestamp},v1={sign(body, self._secret, timestamp)}",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks) relink-sandbox",
        }
        error: str | None = None
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
            if 200 <= response.status_code < 300:
                async with self._db.transaction() as conn:
                    await store.mark_delivered(conn, event_id=event_id)
                return True
            error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        backoff = min(2 ** min(attempts, 6), _MAX_BACKOFF_SECONDS) / 4
        async with self._db.transaction() as conn:
            await store.mark_failed(
                conn,
                event_id=event_id,
                retry_at=datetime.now(tz=UTC) + timedelta(seconds=backoff),
                error=error,
            )
        return False

    async def run(self) -> None:
        """Deliver forever (the server's lifespan cancels it)."""
        while True:
            try:
                await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("sandbox webhook delivery failed")
            await asyncio.sleep(_IDLE_SECONDS)
