"""classify(): the verdict of a relink, decided from Stripe's own copy of the session."""

from __future__ import annotations

from typing import Any

import pytest

from relink_api.gateway.objects import FcSession
from relink_api.relink.classify import Verdict, classify
from relink_api.relink.schemas import FailureReason, NextStep, RelinkOutcome, RelinkScope
from tests.factories import fc_account, fc_session

KNOWN = frozenset({"fca_checking", "fca_savings"})


def session(**kwargs: Any) -> FcSession:
    return FcSession.model_validate(fc_session(**kwargs))


def relink_result(
    *,
    account: str | None = None,
    authorization: str | None = None,
    failure_reason: str | None = None,
) -> dict[str, Any]:
    return {"account": account, "authorization": authorization, "failure_reason": failure_reason}


def verdict_of(fc: FcSession, scope: RelinkScope, known: frozenset[str] = KNOWN) -> Verdict:
    verdict = classify(fc, scope=scope, known_account_ids=known)
    assert verdict is not None
    return verdict


@pytest.mark.parametrize("scope", list(RelinkScope))
def test_pending_session_has_no_verdict_yet(scope: RelinkScope) -> None:
    fc = session(status="pending")

    assert classify(fc, scope=scope, known_account_ids=KNOWN) is None


@pytest.mark.parametrize("scope", list(RelinkScope))
def test_session_without_a_status_has_no_verdict_yet(scope: RelinkScope) -> None:
    raw = fc_session(status="succeeded", accounts=[fc_account("fca_checking")])
    raw["status"] = None
    fc = FcSession.model_validate(raw)

    assert classify(fc, scope=scope, known_account_ids=KNOWN) is None


@pytest.mark.parametrize("scope", list(RelinkScope))
def test_cancelled_session_is_cancelled_and_offers_a_retry(scope: RelinkScope) -> None:
    fc = session(status="cancelled")

    verdict = verdict_of(fc, scope)

    assert verdict.outcome is RelinkOutcome.cancelled
    assert verdict.failure_reason is None
    assert verdict.next_step is NextStep.retry
    assert verdict.linked_account_ids == ()
    assert verdict.new_account_ids == ()


@pytest.mark.parametrize(
    ("reason", "scope", "expected_reason", "next_step"),
    [
        ("no_account", RelinkScope.account, FailureReason.no_account, NextStep.relink_institution),
        (
            "no_account",
            RelinkScope.institution,
            FailureReason.no_account,
            NextStep.set_up_payment_method,
        ),
        ("no_authorization", RelinkScope.account, FailureReason.no_authorization, NextStep.retry),
        (
            "no_authorization",
            RelinkScope.institution,
            FailureReason.no_authorization,
            NextStep.retry,
        ),
        ("other", RelinkScope.account, FailureReason.other, NextStep.retry),
        ("other", RelinkScope.institution, FailureReason.other, NextStep.retry),
        ("bank_on_fire", RelinkScope.account, FailureReason.other, NextStep.retry),
        ("bank_on_fire", RelinkScope.institution, FailureReason.other, NextStep.retry),
    ],
)
def test_failed_session_carries_stripes_reason_and_the_next_step(
    reason: str, scope: RelinkScope, expected_reason: FailureReason, next_step: NextStep
) -> None:
    fc = session(status="failed", relink_result=relink_result(failure_reason=reason))

    verdict = verdict_of(fc, scope)

    assert verdict.outcome is RelinkOutcome.failed
    assert verdict.failure_reason is expected_reason
    assert verdict.next_step is next_step
    assert verdict.linked_account_ids == ()
    assert verdict.new_account_ids == ()


def test_failed_session_without_a_relink_result_is_other() -> None:
    fc = session(status="failed", relink_result=None)

    verdict = verdict_of(fc, RelinkScope.account)

    assert verdict.outcome is RelinkOutcome.failed
    assert verdict.failure_reason is FailureReason.other
    assert verdict.next_step is NextStep.retry


def test_failed_session_ignores_accounts_it_lists() -> None:
    fc = session(
        status="failed",
        accounts=[fc_account("fca_checking")],
        relink_result=relink_result(failure_reason="no_authorization"),
    )

    verdict = verdict_of(fc, RelinkScope.account)

    assert verdict.outcome is RelinkOutcome.failed
    assert verdict.linked_account_ids == ()


@pytest.mark.parametrize("scope", list(RelinkScope))
def test_succeeded_status_with_a_failure_reason_is_failed(scope: RelinkScope) -> None:
    fc = session(
        status="succeeded",
        accounts=[fc_account("fca_checking")],
        relink_result=relink_result(
            account="fca_checking", authorization="fcauth_1", failure_reason="no_account"
        ),
    )

    verdict = verdict_of(fc, scope)

    assert verdict.outcome is RelinkOutcome.failed
    assert verdict.failure_reason is FailureReason.no_account
    assert verdict.linked_account_ids == ()
    assert verdict.new_account_ids == ()


def test_account_scope_success_on_the_known_account_is_relinked() -> None:
    fc = session(
        status="succeeded",
        accounts=[fc_account("fca_checking")],
        relink_result=relink_result(account="fca_checking", authorization="fcauth_1"),
    )

    verdict = verdict_of(fc, RelinkScope.account)

    assert verdict == Verdict(RelinkOutcome.relinked, None, NextStep.none, ("fca_checking",), ())


def test_account_scope_success_named_only_in_relink_result_is_relinked() -> None:
    fc = session(
        status="succeeded",
        accounts=[],
        relink_result=relink_result(account="fca_checking", authorization="fcauth_1"),
    )

    verdict = verdict_of(fc, RelinkScope.account)

    assert verdict.outcome is RelinkOutcome.relinked
    assert verdict.next_step is NextStep.none
    assert verdict.linked_account_ids == ("fca_checking",)


def test_institution_scope_choosing_a_known_sibling_is_relinked() -> None:
    fc = session(
        status="succeeded",
        account=None,
        accounts=[fc_account("fca_savings", subcategory="savings")],
        relink_result=relink_result(authorization="fcauth_1"),
    )

    verdict = verdict_of(fc, RelinkScope.institution)

    assert verdict == Verdict(RelinkOutcome.relinked, None, NextStep.none, ("fca_savings",), ())


def test_institution_scope_choosing_an_unknown_account_is_new_account() -> None:
    fc = session(
        status="succeeded",
        account=None,
        accounts=[fc_account("fca_new")],
        relink_result=relink_result(authorization="fcauth_1"),
    )

    verdict = verdict_of(fc, RelinkScope.institution)

    assert verdict.outcome is RelinkOutcome.new_account
    assert verdict.failure_reason is None
    assert verdict.next_step is NextStep.set_up_payment_method
    assert verdict.linked_account_ids == ("fca_new",)
    assert verdict.new_account_ids == ("fca_new",)


def test_known_and_unknown_accounts_together_are_relinked_with_the_new_one_flagged() -> None:
    fc = session(
        status="succeeded",
        account=None,
        accounts=[fc_account("fca_savings"), fc_account("fca_new")],
        relink_result=relink_result(authorization="fcauth_1"),
    )

    verdict = verdict_of(fc, RelinkScope.institution)

    assert verdict.outcome is RelinkOutcome.relinked
    assert verdict.linked_account_ids == ("fca_savings", "fca_new")
    assert verdict.new_account_ids == ("fca_new",)


def test_known_ids_decide_between_relinked_and_new_account() -> None:
    fc = session(
        status="succeeded",
        accounts=[fc_account("fca_checking")],
        relink_result=relink_result(account="fca_checking", authorization="fcauth_1"),
    )

    verdict = verdict_of(fc, RelinkScope.account, known=frozenset())

    assert verdict.outcome is RelinkOutcome.new_account
    assert verdict.new_account_ids == ("fca_checking",)


@pytest.mark.parametrize(
    ("scope", "reason", "next_step"),
    [
        (RelinkScope.account, FailureReason.other, NextStep.retry),
        (RelinkScope.institution, FailureReason.no_account, NextStep.set_up_payment_method),
    ],
)
def test_succeeded_with_nothing_linked_is_failed(
    scope: RelinkScope, reason: FailureReason, next_step: NextStep
) -> None:
    fc = session(
        status="succeeded",
        account=None,
        accounts=[],
        relink_result=relink_result(authorization="fcauth_1"),
    )

    verdict = verdict_of(fc, scope)

    assert verdict.outcome is RelinkOutcome.failed
    assert verdict.failure_reason is reason
    assert verdict.next_step is next_step
    assert verdict.linked_account_ids == ()
    assert verdict.new_account_ids == ()
