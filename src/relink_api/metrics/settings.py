"""The knobs of ``/metrics`` (``RELINK_METRICS_…``), mixed into ``Settings``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class MetricsSettings(BaseSettings):
    """Who may scrape ``/metrics``, and how its gauges are computed."""

    metrics_accounts_cache_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="How long the `relink_accounts` gauge (every account counted by link "
        "health, a scan of the accounts table) is reused between scrapes; 0 counts on every "
        "scrape.",
    )
    metrics_query_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="The statement timeout of the queries behind the database-computed "
        "gauges: a scrape never waits longer on the database; a gauge that timed out is "
        "left out of that scrape (or shows its last value).",
    )
