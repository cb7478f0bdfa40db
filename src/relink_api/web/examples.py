"""The examples a request or response model shows in the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict


def with_examples(*examples: dict[str, Any], extra: Literal["forbid"] | None = None) -> ConfigDict:
    """A model's ``model_config`` that puts ``examples`` in its JSON schema; ``extra="forbid"``
    for a request body that refuses unknown fields."""
    if extra is None:
        return ConfigDict(json_schema_extra={"examples": list(examples)})
    return ConfigDict(extra=extra, json_schema_extra={"examples": list(examples)})
