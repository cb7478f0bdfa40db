"""Decide a relink's outcome from Stripe's own copy of the session."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from relink_api.gateway.objects import FcSession
from relink_api.relink.schemas import FailureReason, NextStep, RelinkOutcome, RelinkScope


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: RelinkOutcome
    failure_reason: FailureReason | None
    next_step: NextStep
    linked_account_ids: tuple[str, ...]
    new_account_ids: tuple[str, ...]


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


def classify(
    session: FcSession, *, scope: RelinkScope, known_account_ids: Set[str]
) -> Verdict | None:
    """The verdict, or ``None`` while Stripe still reports the session as pending.

    ``known_account_ids`` are the caller's stored accounts among those the session linked.
    """
    if session.status in (None, "pending"):
        return None
    if session.status == "cancelled":
        return Verdict(RelinkOutcome.cancelled, None, NextStep.retry, (), ())
    result = session.relink_result
    if session.status != "succeeded" or (result is not None and result.failure_reason):
        return _failed(result.failure_reason if result else None, scope)

    linked = [account.id for account in session.accounts.data]
    if result is not None and result.account and result.account not in linked:
        linked.append(result.account)
    if not linked:
        # Succeeded with nothing linked and no reason given: not a repair we can confirm.
        return _failed(
            FailureReason.no_account.value if scope is RelinkScope.institution else None, scope
        )
    new = tuple(account_id for account_id in linked if account_id not in known_account_ids)
    if len(new) < len(linked):
        return Verdict(RelinkOutcome.relinked, None, NextStep.none, tuple(linked), new)
    return Verdict(
        RelinkOutcome.new_account, None, NextStep.set_up_payment_method, tuple(linked), new
    )
