"""The knobs of reconciliation (``RELINK_SYNC_…``), mixed into ``Settings``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class ReconcileSettings(BaseSettings):
    """How often accounts are re-read from Stripe, and how fast."""

    sync_interval_seconds: float = Field(
        default=0, ge=0, description="Run reconciliation inside the server this often; 0 = off."
    )
    sync_stale_after_seconds: int = Field(
        default=6 * 3600,
        ge=0,
        description="Re-read accounts needing attention (inactive, Stripe-warned, account "
        "numbers expiring within 30 days, a relink in progress) not confirmed for this long; "
        "they are re-read before any other.",
    )
    # At a million accounts and 25 requests a second a full re-read takes 11 hours: healthy
    # accounts are re-read on a slower cycle, their webhooks trusted in between.
    sync_healthy_stale_after_seconds: int = Field(
        default=3 * 86400,
        ge=0,
        description="Re-read every other account not confirmed for this long.",
    )
    sync_concurrency: int = Field(
        default=4,
        ge=1,
        le=25,
        description="Accounts one sync run (or the in-server sync) re-reads at once; to keep "
        "up its pace it needs about the pace times Stripe's answer time.",
    )
    # Stripe's default limit is about 25 requests/s per endpoint, shared with live traffic.
    sync_requests_per_second: float = Field(
        default=10,
        gt=0,
        le=25,
        description="The pace of one sync run's calls to Stripe, within the shared Stripe budget.",
    )
