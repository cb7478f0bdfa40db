"""The knobs of ``/metrics`` (``RELINK_METRICS_…``), mixed into ``Settings``."""

from __future__ import annotations

from pydantic_settings import BaseSettings


class MetricsSettings(BaseSettings):
    """Who may scrape ``/metrics``, and how its gauges are computed."""
