"""The webhook endpoint's answer to Stripe."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from relink_api.web.examples import with_examples


class WebhookResult(StrEnum):
    """``applied``: state changed (or confirmed); ``stale``: older than what is stored, kept
    in the log only; ``ignored``: a type relink-api does not act on; ``duplicate``: this
    event id was already received; ``refused``: a live-mode event on a test-mode server (or
    the reverse), kept in the log only."""

    applied = "applied"
    stale = "stale"
    ignored = "ignored"
    duplicate = "duplicate"
    refused = "refused"


class WebhookAck(BaseModel):
    """Sent with 200 once the event is durably recorded (and applied)."""

    model_config = with_examples({"received": True, "event_id": "evt_1PZ3xY", "result": "applied"})

    received: bool = True
    event_id: str
    result: WebhookResult
