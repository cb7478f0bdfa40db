"""The knob of ``relink-api serve``'s process count (``RELINK_WORKERS``), mixed into
``Settings``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

MAX_WORKERS = 64


class ServeSettings(BaseSettings):
    """How many processes ``relink-api serve`` answers requests with."""

    workers: int = Field(
        default=1,
        ge=1,
        le=MAX_WORKERS,
        description="Processes `relink-api serve` answers on its port with (`--workers`); "
        "above 1 a parent supervises them and only the first runs the background loops "
        "(docs/deploy.md, Workers). The sandbox runs in one.",
    )
