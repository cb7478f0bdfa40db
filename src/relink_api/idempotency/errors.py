"""What an Idempotency-Key header can be refused for."""

from __future__ import annotations

from relink_api.errors import ProblemError


class IdempotencyKeyInvalid(ProblemError):
    status = 400
    slug = "idempotency-key-invalid"
    title = "The Idempotency-Key header is not valid"


class IdempotencyKeyInUse(ProblemError):
    status = 409
    slug = "idempotency-key-in-use"
    title = "A request with this Idempotency-Key is still in progress"


class IdempotencyKeyReused(ProblemError):
    status = 422
    slug = "idempotency-key-reused"
    title = "This Idempotency-Key was used for a different request"
