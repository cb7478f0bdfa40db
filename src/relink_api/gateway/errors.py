"""Stripe's refusals and failures as problem types, and the SDK exceptions behind them."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import stripe

from relink_api.errors import ProblemError

logger = logging.getLogger(__name__)

RETRY_AFTER_RATE_LIMITED = 2
# Stripe's own Retry-After on a 429 is passed on within these bounds (a header that asked
# for an hour would stall every client for no good reason).
RETRY_AFTER_RATE_LIMITED_MAX = 60
RETRY_AFTER_UNAVAILABLE = 5


class StripeInvalidRequest(
    ProblemError, slug="stripe-invalid-request", title="Stripe rejected the request", status=422
):
    """Stripe refused what was asked; ``detail`` is Stripe's message."""


class StripeResourceMissing(
    ProblemError,
    slug="stripe-resource-missing",
    title="Stripe does not know this object",
    status=404,
):
    """Stripe answered ``resource_missing``: the object was deleted there."""


class StripeConfigurationError(
    ProblemError,
    slug="stripe-configuration",
    title="The server's Stripe configuration is wrong",
    status=500,
):
    """Stripe rejected the server's API key or its permissions."""


class StripeRateLimited(
    ProblemError,
    slug="stripe-rate-limited",
    title="Stripe is rate limiting this service",
    status=503,
):
    """Stripe answered 429, or the shared budget had no turn free in time."""


class StripeUnavailable(
    ProblemError, slug="stripe-unavailable", title="Stripe could not be reached", status=503
):
    """A network error or timeout to Stripe after the SDK's retries."""


class StripeFailed(ProblemError, slug="stripe-error", title="Stripe returned an error", status=502):
    """Any other error from Stripe after the SDK's retries."""


@asynccontextmanager
async def translate_stripe_errors() -> AsyncIterator[None]:
    """Turn SDK exceptions into domain errors that render as problems."""
    try:
        yield
    except stripe.InvalidRequestError as exc:
        raise _invalid_request_problem(exc) from exc
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        # Stripe's message names the (redacted) key; say what to fix, not what was sent.
        logger.error(
            "Stripe rejected the server's API key (%s, request %s)",
            type(exc).__name__,
            exc.request_id,
        )
        raise StripeConfigurationError(
            "Stripe rejected this server's credentials; an operator must check "
            "STRIPE_SECRET_KEY and its permissions. Nothing was changed."
        ) from exc
    except stripe.RateLimitError as exc:
        logger.warning("Stripe rate limited the request %s", exc.request_id)
        raise StripeRateLimited(
            "Stripe is rate limiting this service; retry shortly.",
            headers={"Retry-After": str(stripe_retry_after(exc.headers))},
        ) from exc
    except stripe.APIConnectionError as exc:
        logger.warning("Stripe could not be reached: %s", type(exc).__name__)
        raise StripeUnavailable(
            "Stripe could not be reached after retrying; retry shortly.",
            headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
        ) from exc
    except stripe.StripeError as exc:
        logger.warning(
            "Stripe error %s (HTTP %s, request %s)",
            type(exc).__name__,
            exc.http_status,
            exc.request_id,
        )
        raise StripeFailed(
            "Stripe returned an error after retrying; retry shortly.",
            extensions={"stripe_request_id": exc.request_id},
            headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
        ) from exc


def stripe_retry_after(headers: Mapping[str, str] | None) -> int:
    """Stripe's own ``Retry-After`` (whole seconds) from a 429, within sane bounds; 2 s when
    it sent none or one that is not a number of seconds."""
    for name, value in (headers or {}).items():
        if name.lower() != "retry-after":
            continue
        try:
            seconds = float(value.strip())
        except ValueError:
            break
        if not math.isfinite(seconds):
            break
        return min(max(1, math.ceil(seconds)), RETRY_AFTER_RATE_LIMITED_MAX)
    return RETRY_AFTER_RATE_LIMITED


def _invalid_request_problem(exc: stripe.InvalidRequestError) -> ProblemError:
    extensions: dict[str, Any] = {
        "stripe_code": exc.code,
        "stripe_param": exc.param,
        "stripe_request_id": exc.request_id,
    }
    message = exc.user_message or "Stripe rejected the request."
    if exc.http_status == 404 or exc.code == "resource_missing":
        return StripeResourceMissing(message, extensions=extensions)
    return StripeInvalidRequest(message, extensions=extensions)
