"""The sandbox's stand-in for the host application: an endpoint registered at start that
verifies every event relink-api sends it, as a real receiver would (Standard Webhooks).
Its routes are in ``receiver_page``. It shows the outbound events working with no setup."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from relink_api.auth import Operator
from relink_api.db import Database
from relink_api.outbound import endpoints
from relink_api.outbound.schemas import EndpointStatus, WebhookEndpointCreate
from relink_api.settings import Settings

RECEIVER_PATH = "/sandbox/receiver"
_KEPT = 200


@dataclass(slots=True)
class Received:
    """One verified delivery, and when it arrived."""

    event: dict[str, Any]
    received_at: datetime


@dataclass(slots=True)
class Receiver:
    """The secrets the receiver verifies with (the endpoint's, as shown once at creation),
    and the newest verified deliveries."""

    endpoint_id: str | None = None
    secrets: list[str] = field(default_factory=list)
    received: deque[Received] = field(default_factory=lambda: deque(maxlen=_KEPT))
    refused: int = 0

    def verify(self, body: bytes, headers: dict[str, str]) -> dict[str, Any] | None:
        """The event, if a secret of ours signed it."""
        for secret in self.secrets:
            try:
                event: dict[str, Any] = Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            return event
        return None


SANDBOX_OPERATOR = Operator(key_id="sandbox")
SANDBOX_ENDPOINT = "The sandbox's receiver"


async def register_receiver(database: Database, settings: Settings) -> Receiver:
    """Register the receiver as an endpoint for every event (once per data folder and
    address), and give it a fresh secret: a secret is shown only when made, so each start
    makes one (the previous keeps signing beside it for a day, as after any rotation). The
    receivers of earlier starts at other addresses are disabled: nobody answers there."""
    url = f"{settings.public_base_url or ''}{RECEIVER_PATH}"
    listed = await endpoints.list_endpoints(database, cursor=None, limit=100)
    current: str | None = None
    for endpoint in listed.data:
        if endpoint.description != SANDBOX_ENDPOINT:
            continue
        if endpoint.url == url:
            current = endpoint.id
            if endpoint.status is not EndpointStatus.enabled:
                await endpoints.enable(database, endpoint.id, operator=SANDBOX_OPERATOR)
        elif endpoint.status is EndpointStatus.enabled:
            await endpoints.disable(database, endpoint.id, operator=SANDBOX_OPERATOR)
    if current is None:
        created = await endpoints.create(
            database,
            settings,
            WebhookEndpointCreate(url=url, description=SANDBOX_ENDPOINT),
            operator=SANDBOX_OPERATOR,
        )
        return Receiver(endpoint_id=created.value.id, secrets=[created.value.secret])
    rotated = await endpoints.rotate_secret(database, current, operator=SANDBOX_OPERATOR)
    return Receiver(endpoint_id=current, secrets=[rotated.secret])
