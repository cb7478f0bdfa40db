"""Why a relink cannot start or finish yet."""

from __future__ import annotations

from relink_api.errors import Conflict


class AccountNotRepairable(Conflict):
    slug = "account-not-repairable"
    title = "This account cannot be repaired by relinking"


class AccountDisconnected(Conflict):
    slug = "account-disconnected"
    title = "This account is disconnected"


class AccountHealthy(Conflict):
    slug = "account-healthy"
    title = "This account needs no relink"


class AccountWithoutAuthorization(Conflict):
    slug = "account-without-authorization"
    title = "This account has no authorization to relink"


class RelinkSessionPending(Conflict):
    slug = "relink-session-pending"
    title = "The relink session is still in progress"
