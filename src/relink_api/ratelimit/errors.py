"""The refusal of a request over its rate limit."""

from __future__ import annotations

from relink_api.errors import ProblemError


class RateLimited(ProblemError, slug="rate-limited", title="Too many requests", status=429):
    """Too many requests from one customer, operator or client address; ``Retry-After``
    says when the next one will be let in."""
