"""The knobs of outbound delivery (``RELINK_OUTBOUND_…``), mixed into ``Settings``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class OutboundSettings(BaseSettings):
    """How events reach the host application's endpoints."""

    outbound_workers: int = Field(
        default=1,
        ge=0,
        le=16,
        description="Delivery workers inside each server process; 0 leaves delivery to "
        "`relink-api worker` processes.",
    )
    outbound_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often an idle worker looks for due deliveries.",
    )
    outbound_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="How long a receiver has to answer."
    )
    outbound_retry_hours: float = Field(
        default=72,
        ge=72,
        description="How long a delivery is retried (exponential backoff with jitter) "
        "before it is given up; at least 3 days.",
    )
    outbound_disable_after_hours: float = Field(
        default=120,
        gt=0,
        description="An endpoint whose every attempt failed for this long is disabled.",
    )
    outbound_allow_private_addresses: bool = Field(
        default=False,
        description="Deliver to private, loopback and link-local addresses, and to http:// "
        "loopback URLs (development only; the sandbox turns it on).",
    )
