"""Signing deliveries per the Standard Webhooks specification, with the ``standardwebhooks``
library: receivers verify with any Standard Webhooks library."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from standardwebhooks import Webhook

from relink_api import __version__

SECRET_PREFIX = "whsec_"
USER_AGENT = f"relink-api/{__version__} (outbound events; Standard Webhooks)"


def new_secret() -> str:
    """A new signing secret: ``whsec_`` and 32 random bytes in base64, as the specification
    suggests."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def body(payload: Mapping[str, Any]) -> str:
    """The event as sent and signed: serialized once, compactly."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def headers(
    *, event_id: str, body: str, signing_secrets: Sequence[str], sent_at: datetime
) -> dict[str, str]:
    """The headers of one delivery: ``webhook-signature`` holds one ``v1,`` signature per
    secret (the current one and, during a rotation, the previous one), space-separated."""
    signatures = " ".join(
        Webhook(secret).sign(event_id, sent_at, body) for secret in signing_secrets
    )
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
