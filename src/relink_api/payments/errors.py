"""Why a payment method cannot be set up for a relink."""

from __future__ import annotations

from relink_api.errors import Conflict


class PaymentMethodNotNeeded(
    Conflict, slug="payment-method-not-needed", title="This relink needs no new payment method"
):
    """A payment method asked for a relink whose outcome needs none."""


class PaymentMethodAlreadySetUp(
    Conflict,
    slug="payment-method-already-set-up",
    title="A payment method was already set up for this relink",
):
    """The relink's payment method has already succeeded."""
