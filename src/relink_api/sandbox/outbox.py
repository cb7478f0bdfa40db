"""Webhook delivery, as Stripe does it: signed, in order, retried until answered 2xx."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime, timedelta

import httpx

from relink_api.db import Database
from relink_api.sandbox import store
from relink_api.webhooks.signature import sign

logger = logging.getLogger(__name__)

_BATCH = 20
_LEASE = timedelta(seconds=30)
_IDLE_SECONDS = 0.25
_MAX_BACKOFF_SECONDS = 60


class Outbox:
    """Delivers queued sandbox events to the app's own webhook endpoint."""

    def __init__(self, db: Database, *, url: str, secret: str) -> None:
        self._db = db
        self._url = url
        self._secret = secret
        self._client = httpx.AsyncClient(timeout=10)
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def deliver_due(self) -> int:
        """Send every due event once; returns how many were accepted."""
        # One round at a time in this process; other replicas are kept out by the lease.
        async with self._lock:
            delivered = 0
            while True:
                async with self._db.transaction() as conn:
                    batch = await store.claim_events(
                        conn, lease_until=datetime.now(tz=UTC) + _LEASE, limit=_BATCH
                    )
                if not batch:
                    return delivered
                for event in batch:
                    delivered += int(
                        await self._send(event["id"], event["payload"], event["attempts"])
                    )

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
