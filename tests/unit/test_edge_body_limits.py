"""Which body limit each path gets."""

from __future__ import annotations

from relink_api.edge.body_limit import BodyLimits

LIMIT = 16 * 1024


def test_the_webhook_and_the_sandbox_have_limits_of_their_own() -> None:
    limits = BodyLimits.for_service(LIMIT)

    assert limits.limit_for("/v1/relink-sessions") == LIMIT
    assert limits.limit_for("/v1/webhooks/stripe") == 1024 * 1024
    assert limits.limit_for("/v1/webhooks/stripe-other") == LIMIT
    # The SDK's form posts to the sandbox's Stripe may carry metadata, as Stripe's do.
    assert limits.limit_for("/sandbox/stripe/v1/financial_connections/sessions") == 64 * 1024
    assert limits.limit_for("/sandbox/stripe") == 64 * 1024
    assert limits.limit_for("/sandbox/stripes") == LIMIT
    assert limits.limit_for("/sandbox/hosted/tok_123") == LIMIT
    assert limits.limit_for("/sandbox/control/demo-customers") == LIMIT
