"""SQL conditions that find accounts by link health through indexes (migration 0013).

An account's health is its stored ``reported_health`` (what Stripe's word alone says of
the link), except that an ``ok`` link whose tokenized account number expires within the
window (``relink_expiring_until``) is ``expiring``: the one rule that depends on the clock.
A condition on the computed health could only be checked row by row; these name the
stored column and the expiry range instead, so each is an index's range."""

from __future__ import annotations

from collections.abc import Iterable

from relink_api.accounts.schemas import LinkHealth

# Whether an `ok` link's account number expires within the window at `at`.
_EXPIRES_SOON = "account_number_expires_at <= relink_expiring_until({at})"


def expiring_by_number(at: str) -> str:
    """Accounts that the clock alone makes expiring at ``at`` (an SQL expression)."""
    return f"(reported_health = 'ok' AND {_EXPIRES_SOON.format(at=at)})"


def _ok_by_number(at: str) -> str:
    expires_soon = _EXPIRES_SOON.format(at=at)
    return f"(reported_health = 'ok' AND (account_number_expires_at IS NULL OR NOT {expires_soon}))"


def having_health(healths: Iterable[LinkHealth], *, at: str = "now()") -> str:
    """Accounts whose link health at ``at`` is one of ``healths``. The healths are written
    as literals (they are the enum's values): planned with them, a rare health is read
    from its index, a common one in id order."""
    wanted = set(healths)
    reported: set[LinkHealth] = {health for health in wanted if health is not LinkHealth.ok}
    either: list[str] = []
    if LinkHealth.ok in wanted and LinkHealth.expiring in wanted:
        reported.add(LinkHealth.ok)
    elif LinkHealth.ok in wanted:
        either.append(_ok_by_number(at))
    elif LinkHealth.expiring in wanted:
        either.append(expiring_by_number(at))
    if reported:
        names = ", ".join(f"'{health.value}'" for health in sorted(reported))
        either.insert(0, f"reported_health IN ({names})")
    return "(" + " OR ".join(either) + ")"
