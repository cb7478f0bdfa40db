"""Why a relink cannot start or finish yet."""

from __future__ import annotations

from relink_api.errors import Conflict


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
