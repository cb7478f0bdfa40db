"""Why a relink cannot start or finish yet."""

from __future__ import annotations

from relink_api.errors import Conflict, NotConfigured
from relink_api.gateway.errors import StripeInvalidRequest


class AccountNotRepairable(
    Conflict, slug="account-not-repairable", title="This account cannot be repaired by relinking"
):
    """An account-scope relink of an account that relinking cannot repair (closed, say)."""


class AccountDisconnected(
    Conflict, slug="account-disconnected", title="This account is disconnected"
):
    """A relink of a disconnected account: only a new link helps."""


class AccountHealthy(Conflict, slug="account-healthy", title="This account needs no relink"):
    """A relink of an account whose link is fine."""


class AccountWithoutAuthorization(
    Conflict,
    slug="account-without-authorization",
    title="This account has no authorization to relink",
):
    """A relink of an account linked before Stripe reported authorizations."""


class RelinkSessionPending(
    Conflict, slug="relink-session-pending", title="The relink session is still in progress"
):
    """A completion (or a payment method) before the customer finished at Stripe."""


class RelinkSessionOver(Conflict, slug="relink-session-over", title="The relink session is over"):
    """A repeated create whose session Stripe has finished or expired: its client secret or
    hosted URL cannot be given again."""


class HostedRelinkNotEnabled(
    NotConfigured,
    slug="hosted-relink-not-enabled",
    title="Stripe has not enabled hosted relink for this account",
):
    """Stripe refused a hosted relink's own parameters: creating hosted relinks through the
    API is a preview Stripe enables for an account on request (docs/stripe.md §1)."""

    @classmethod
    def from_refusal(cls, refusal: StripeInvalidRequest) -> HostedRelinkNotEnabled | None:
        """The problem to answer for Stripe's refusal of a hosted create, if Stripe refused
        the hosted parameters (``ui_mode``, ``hosted[…]``); ``None`` for any other refusal."""
        param = refusal.extensions.get("stripe_param")
        if not isinstance(param, str) or not (
            param in ("ui_mode", "hosted") or param.startswith("hosted[")
        ):
            return None
        return cls(
            f"Stripe refused the hosted relink ({refusal.detail}). Creating hosted relinks "
            "through the API is a Stripe preview that Stripe enables for an account on "
            "request. Until it is enabled for this Stripe account, start the relink with "
            'ui_mode "modal" (Stripe.js, or the native sheet in a mobile app), or send the '
            "customer a hosted relink from the Stripe Dashboard.",
            extensions=refusal.extensions,
        )
