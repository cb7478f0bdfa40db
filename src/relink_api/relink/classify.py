"""Decide a relink's outcome from Stripe's own copy of the session, or, when the session
names no account, from the accounts on the repaired authorization as Stripe has them now."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from relink_api.accounts.schemas import LinkHealth
from relink_api.gateway.objects import FcAccount, FcSession
from relink_api.relink.schemas import FailureReason, NextStep, RelinkOutcome, RelinkScope


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: RelinkOutcome
    failure_reason: FailureReason | None
    next_step: NextStep
    linked_account_ids: tuple[str, ...]
    new_account_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reread:
    """Stripe says the relink of ``authorization_id`` succeeded but not which account it
    linked: the verdict must come from that authorization's accounts as they are now
    (``classify_accounts``)."""

    authorization_id: str


def _failed(reason: str | None, scope: RelinkScope) -> Verdict:
    try:
        failure = FailureReason(reason) if reason else FailureReason.other
    except ValueError:
        failure = FailureReason.other  # a reason newer than this code
    if failure is FailureReason.no_account:
        # The login was repaired but not the account: offer the bank-wide relink, and
        # once that has been tried, a new payment method.
        next_step = (
            NextStep.relink_institution
            if scope is RelinkScope.account
            else NextStep.set_up_payment_method
        )
    else:
        next_step = NextStep.retry
    return Verdict(RelinkOutcome.failed, failure, next_step, (), ())


def _linked(linked: Sequence[str], known_account_ids: Set[str]) -> Verdict:
    """A repair that linked ``linked``: ``relinked`` if it reached a known account,
    ``new_account`` if every account it linked is new to the customer."""
    new = tuple(account_id for account_id in linked if account_id not in known_account_ids)
    if len(new) < len(linked):
        return Verdict(RelinkOutcome.relinked, None, NextStep.none, tuple(linked), new)
    return Verdict(
        RelinkOutcome.new_account, None, NextStep.set_up_payment_method, tuple(linked), new
    )


def classify(
    session: FcSession,
    *,
    scope: RelinkScope,
    asked_account_id: str,
    known_account_ids: Set[str],
) -> Verdict | Reread | None:
    """The verdict; ``Reread`` when Stripe reports a repaired authorization but no account;
    ``None`` while Stripe still reports the session as pending.

    ``asked_account_id`` is the account the relink was started for; ``known_account_ids``
    are the caller's stored accounts among those the session linked.
    """
    if session.status in (None, "pending"):
        return None
    if session.status == "cancelled":
        return Verdict(RelinkOutcome.cancelled, None, NextStep.retry, (), ())
    result = session.relink_result
    if session.status != "succeeded" or (result is not None and result.failure_reason):
        return _failed(result.failure_reason if result else None, scope)

    if scope is RelinkScope.account and result is not None and result.account:
        if result.account != asked_account_id:
            # `relink_options.account` makes the customer repair exactly that account, and
            # `relink_result.account` names the account repaired (docs/stripe.md §1).
            # Another account there means the login was repaired but not the account asked
            # for: what Stripe's guide calls `no_account`. The asked account is not called
            # relinked; the customer is offered the bank-wide relink instead.
            return _failed(FailureReason.no_account.value, scope)

    linked = [account.id for account in session.accounts.data]
    if result is not None and result.account and result.account not in linked:
        linked.append(result.account)
    if linked and (scope is RelinkScope.institution or asked_account_id in linked):
        return _linked(linked, known_account_ids)
    if result is not None and result.authorization:
        # `relink_result.account` is only set when `relink_options.account` was (§1), and
        # Stripe may leave it out: the authorization it says was repaired is the fact to go
        # on, and its accounts, read again, say which of them work now.
        return Reread(result.authorization)
    if linked:
        # Account scope, and only other accounts linked: the asked one was not.
        return _failed(FailureReason.no_account.value, scope)
    # Succeeded with nothing linked and no reason given: not a repair we can confirm.
    return _failed(
        FailureReason.no_account.value if scope is RelinkScope.institution else None, scope
    )


def _works(account: FcAccount) -> bool:
    """Active with no relink asked for: what a repaired account looks like."""
    return account.status == "active" and account.action != "relink_required"


def classify_accounts(
    accounts: Sequence[FcAccount],
    *,
    scope: RelinkScope,
    asked_account_id: str,
    health_at_start: Mapping[str, LinkHealth],
    known_account_ids: Set[str],
) -> Verdict:
    """The verdict of a relink Stripe reports as a repaired authorization without naming an
    account, from ``accounts``: the caller's accounts on that authorization, just read.

    Account scope: relinked if the asked account works now. Institution scope: the accounts
    that work now and did not before the session began (one stored since counts: it may be
    the account the customer has just linked). Nothing linked is Stripe's ``no_account``:
    the login was repaired, not the account.
    """
    working = [account.id for account in accounts if _works(account)]
    if scope is RelinkScope.account:
        linked = [asked_account_id] if asked_account_id in working else []
    else:
        linked = [
            account_id
            for account_id in working
            if health_at_start.get(account_id) is not LinkHealth.ok
        ]
    if not linked:
        return _failed(FailureReason.no_account.value, scope)
    return _linked(linked, known_account_ids)
