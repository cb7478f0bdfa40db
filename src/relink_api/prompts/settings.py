"""The reminder schedule (``RELINK_REMINDER_…``), mixed into ``Settings``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode


def _days(value: object) -> object:
    if isinstance(value, str):
        return [float(part) for part in value.split(",") if part.strip()]
    return value


class PromptSettings(BaseSettings):
    """When a customer is reminded of a broken or expiring link."""

    reminder_broken_days: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [0.0, 1.0, 4.0, 10.0],
        description="Days after a link breaks that its customer is prompted "
        "(comma-separated; 0 is the break itself).",
    )
    reminder_expiring_days: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [30.0, 7.0, 1.0],
        description="Days before an expiring link's expected date that its customer is "
        "prompted (comma-separated).",
    )
    reminder_email: bool = Field(
        default=False,
        description="With each reminder, also have Stripe email the customer a hosted "
        "relink (needs the customer's email at Stripe).",
    )
    reminder_interval_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often due reminders are looked for; 0 turns reminders off.",
    )

    @field_validator("reminder_broken_days", "reminder_expiring_days", mode="before")
    @classmethod
    def _split_days(cls, value: object) -> object:
        return _days(value)

    @field_validator("reminder_broken_days", "reminder_expiring_days", mode="after")
    @classmethod
    def _sorted_distinct(cls, value: list[float]) -> list[float]:
        if any(day < 0 for day in value):
            raise ValueError("days are counted from the date, never negative")
        return sorted(set(value))
