"""The edge's refusals: requests over the size limits."""

from __future__ import annotations

from relink_api.errors import ProblemError


class PayloadTooLarge(ProblemError):
    status = 413
    slug = "payload-too-large"
    title = "The body is too large"


class RequestHeaderFieldsTooLarge(ProblemError):
    status = 431
    slug = "request-header-fields-too-large"
    title = "The request line and headers are too large"
