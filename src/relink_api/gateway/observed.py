"""Every call to Stripe observed once: a log line naming Stripe's request id, and the
latency histogram by operation and outcome."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import stripe

from relink_api.errors import ProblemError
from relink_api.gateway.errors import translate_stripe_errors
from relink_api.metrics.families import STRIPE_CALL_SECONDS

logger = logging.getLogger("relink_api.stripe")

# The problem a failed call became, as a short outcome label (a closed set).
_OUTCOMES = {
    "stripe-invalid-request": "invalid_request",
    "stripe-resource-missing": "resource_missing",
    "stripe-configuration": "configuration",
    "stripe-rate-limited": "rate_limited",
    "stripe-unavailable": "unavailable",
    "stripe-error": "error",
}


@dataclass(slots=True)
class StripeCall:
    """What the caller tells the observation about a call that answered."""

    request_id: str | None = None

    def answered(self, result: object) -> None:
        """Note Stripe's ``Request-Id`` from what the call returned: an SDK object (its
        ``last_response``) or a raw request's response."""
        response = getattr(result, "last_response", result)
        self.request_id = getattr(response, "request_id", None)


@asynccontextmanager
async def observed_call(operation: str) -> AsyncIterator[StripeCall]:
    """Time one call, translate Stripe's errors into problems, then log and count it."""
    call = StripeCall()
    outcome = "cancelled"
    started = time.perf_counter()
    try:
        async with translate_stripe_errors():
            yield call
        outcome = "ok"
    except ProblemError as exc:
        outcome = _OUTCOMES.get(exc.slug, "error")
        cause = exc.__cause__
        if isinstance(cause, stripe.StripeError):
            call.request_id = cause.request_id
        raise
    except Exception:
        outcome = "error"
        raise
    finally:
        seconds = time.perf_counter() - started
        STRIPE_CALL_SECONDS.labels(operation, outcome).observe(seconds)
        logger.info(
            "stripe %s %s %.1fms %s",
            operation,
            outcome,
            seconds * 1000,
            call.request_id or "-",
            extra={
                "stripe_operation": operation,
                "stripe_outcome": outcome,
                "stripe_request_id": call.request_id,
                "duration_ms": round(seconds * 1000, 1),
            },
        )
