"""The edge's refusals: requests over the size limits."""

from __future__ import annotations

from relink_api.errors import ProblemError


class PayloadTooLarge(
    ProblemError, slug="payload-too-large", title="The body is too large", status=413
):
    """A body over its route's limit (``RELINK_MAX_BODY_BYTES`` on the JSON routes, more on
    the webhook), refused before it is parsed or the caller authenticated."""


class RequestHeaderFieldsTooLarge(
    ProblemError,
    slug="request-header-fields-too-large",
    title="The request line and headers are too large",
    status=431,
):
    """A request line and headers over RELINK_MAX_HEADER_BYTES; the connection is closed."""
