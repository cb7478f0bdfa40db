"""What the outbound feature refuses: problem types for the operator API, and the refusals
a delivery records as a failed attempt."""

from __future__ import annotations

from relink_api.errors import Conflict, ValidationFailed


class EndpointDisabled(
    Conflict, slug="webhook-endpoint-disabled", title="This webhook endpoint is disabled"
):
    """A redelivery to an endpoint that is disabled: enable it first."""


class EndpointUrlInvalid(ValueError):
    """An endpoint URL deliveries may not go to; the message says why."""

    def problem(self, field: str = "url") -> ValidationFailed:
        """The 422 that names the field."""
        return ValidationFailed(
            f"url: {self}",
            extensions={"errors": [{"loc": ["body", field], "msg": str(self)}]},
        )


class AddressRefused(Exception):
    """A delivery refused before connecting: the host resolves to an address deliveries may
    not go to, or does not resolve."""
