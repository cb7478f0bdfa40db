"""What an Idempotency-Key header can be refused for."""

from __future__ import annotations

from relink_api.errors import ProblemError


class IdempotencyKeyInvalid(
    ProblemError,
    slug="idempotency-key-invalid",
    title="The Idempotency-Key header is not valid",
    status=400,
):
    """A key that is empty, too long, or not printable ASCII."""


class IdempotencyKeyInUse(
    ProblemError,
    slug="idempotency-key-in-use",
    title="A request with this Idempotency-Key is still in progress",
    status=409,
):
    """The first request with this key has not finished (or its claim has not lapsed)."""


class IdempotencyKeyReused(
    ProblemError,
    slug="idempotency-key-reused",
    title="This Idempotency-Key was used for a different request",
    status=422,
):
    """A key used in the last 24 hours with another body, method or path."""
