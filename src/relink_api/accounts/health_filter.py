"""The ``health`` query filter of account lists (the customer's and the operator's)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from relink_api.accounts.schemas import LinkHealth
from relink_api.errors import ValidationFailed


def health_parameter_schema(schema: dict[str, Any]) -> None:
    """Document ``health`` as an array of the named ``LinkHealth`` enum (so generators
    emit the type); the comma-separated form is accepted too, and parsed by hand."""
    schema.pop("anyOf", None)
    schema.update({"type": "array", "items": {"$ref": "#/components/schemas/LinkHealth"}})


HealthFilter = Annotated[
    list[str] | None,
    Query(
        description="Only accounts with this link health; repeat (`health=a&health=b`) or "
        "comma-separate (`health=a,b`). An unknown or empty value is a 422.",
        examples=[["relink_required", "expiring"]],
        json_schema_extra=health_parameter_schema,
    ),
]
"""The raw ``health`` query: pass it to ``parse_health``."""


def parse_health(values: list[str] | None) -> list[LinkHealth] | None:
    """The healths ``?health=a&health=b`` or ``?health=a,b`` names; ``None``: no filter."""
    if not values:
        return None
    parsed: list[LinkHealth] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                parsed.append(LinkHealth(part))
            except ValueError:
                allowed = ", ".join(health.value for health in LinkHealth)
                raise ValidationFailed(
                    f"Unknown link health {part!r}; use one or more of: {allowed}.",
                    extensions={"errors": [{"loc": ["query", "health"], "msg": "unknown value"}]},
                ) from None
    if not parsed:
        # `?health=` names no health at all: filtering by nothing would silently list
        # every account, which is never what a client that sent the filter meant.
        allowed = ", ".join(health.value for health in LinkHealth)
        raise ValidationFailed(
            f"health names no link health; use one or more of: {allowed}.",
            extensions={"errors": [{"loc": ["query", "health"], "msg": "empty value"}]},
        )
    return parsed
