"""classify(): the verdict of a relink, decided from Stripe's own copy of the session."""

from __future__ import annotations

from typing import Any

import pytest

from relink_api.accounts.schemas import LinkHealth
from relink_api.gateway.objects import FcAccount, FcSession
from relink_api.relink.classify import Reread, Verdict, classify, classify_accounts
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


def decide(fc: FcSession, scope: RelinkScope, known: frozenset[str] = KNOWN) -> object:
    return classify(fc, scope=scope, asked_account_id="fca_checking", known_account_ids=known)


def verdict_of(fc: FcSession, scope: RelinkScope, known: frozenset[str] = KNOWN) -> Verdict:
    verdict = decide(fc, scope, known)
    assert isinstance(verdict, Verdict)
    return verdict


@pytest.mark.parametrize("scope", list(RelinkScope))
def test_pending_session_has_no_verdict_yet(scope: RelinkScope) -> None:
    fc = session(status="pending")

    assert decide(fc, scope) is None


@pytest.mark.parametrize("scope", list(RelinkScope))
def test_session_without_a_status_has_no_verdict_yet(scope: RelinkScope) -> None:
    raw = fc_session(status="succeeded", accounts=[fc_account("fca_checking")])
    raw["status"] = None
    fc = FcSession.model_validate(raw)

    assert decide(fc, scope) is None


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
def test_succeeded_with_nothing_linked_nor_repaired_is_failed(
    scope: RelinkScope, reason: FailureReason, next_step: NextStep
) -> None:
    fc = session(status="succeeded", account=None, accounts=[], relink_result=relink_result())

    verdict = verdict_of(fc, scope)

    assert verdict.outcome is RelinkOutcome.failed
    assert verdict.failure_reason is reason
    assert verdict.next_step is next_step
    assert verdict.linked_account_ids == ()
    assert verdict.new_account_ids == ()


# --- outcome checks: the account asked for, and a repair that names no account ----------


@pytest.mark.parametrize("listed", [["fca_other"], [], ["fca_checking", "fca_other"]])
def test_account_scope_naming_another_account_is_no_account(listed: list[str]) -> None:
    # relink_options.account makes the customer repair exactly that account; Stripe naming
    # another in relink_result.account means the asked one was not repaired.
    fc = session(
        status="succeeded",
        accounts=[fc_account(account_id) for account_id in listed],
        relink_result=relink_result(account="fca_other", authorization="fcauth_1"),
    )

    verdict = verdict_of(fc, RelinkScope.account, known=KNOWN | {"fca_other"})

    assert verdict == Verdict(
        RelinkOutcome.failed, FailureReason.no_account, NextStep.relink_institution, (), ()
    )


@pytest.mark.parametrize(
    ("scope", "accounts", "account"),
    [
        (RelinkScope.account, [], None),
        (RelinkScope.institution, [], None),
        # Account scope, Stripe naming no account and listing only another one.
        (RelinkScope.account, ["fca_savings"], None),
    ],
    ids=["account-scope", "institution-scope", "account-scope-another-listed"],
)
def test_a_repaired_authorization_without_its_account_is_read_again(
    scope: RelinkScope, accounts: list[str], account: str | None
) -> None:
    fc = session(
        status="succeeded",
        account="fca_checking" if scope is RelinkScope.account else None,
        accounts=[fc_account(account_id) for account_id in accounts],
        relink_result=relink_result(account=account, authorization="fcauth_1"),
    )

    assert decide(fc, scope) == Reread("fcauth_1")


def test_account_scope_with_other_accounts_and_no_authorization_is_no_account() -> None:
    fc = session(
        status="succeeded",
        accounts=[fc_account("fca_savings")],
        relink_result=relink_result(),
    )

    verdict = verdict_of(fc, RelinkScope.account)

    assert (verdict.outcome, verdict.failure_reason) == (
        RelinkOutcome.failed,
        FailureReason.no_account,
    )
    assert verdict.linked_account_ids == ()


def now(account_id: str, **kwargs: object) -> FcAccount:
    return FcAccount.model_validate(fc_account(account_id, **kwargs))  # type: ignore[arg-type]


BROKEN_AT_START = {
    "fca_checking": LinkHealth.relink_required,
    "fca_savings": LinkHealth.relink_required,
}


def verdict_from(
    accounts: list[FcAccount],
    scope: RelinkScope,
    *,
    at_start: dict[str, LinkHealth] = BROKEN_AT_START,
    known: frozenset[str] = KNOWN,
) -> Verdict:
    return classify_accounts(
        accounts,
        scope=scope,
        asked_account_id="fca_checking",
        health_at_start=at_start,
        known_account_ids=known,
    )


def test_account_scope_reread_is_relinked_when_the_asked_account_works_now() -> None:
    verdict = verdict_from([now("fca_checking"), now("fca_savings")], RelinkScope.account)

    assert verdict == Verdict(RelinkOutcome.relinked, None, NextStep.none, ("fca_checking",), ())


@pytest.mark.parametrize(
    "asked",
    [
        {"status": "inactive", "action": "relink_required"},
        {"status": "active", "action": "relink_required", "expected_deactivation_date": 1},
        {"status": "suspended"},
    ],
    ids=["still-inactive", "still-expiring", "unknown-status"],
)
def test_account_scope_reread_is_no_account_when_the_asked_account_does_not_work(
    asked: dict[str, object],
) -> None:
    verdict = verdict_from([now("fca_checking", **asked), now("fca_savings")], RelinkScope.account)

    assert verdict == Verdict(
        RelinkOutcome.failed, FailureReason.no_account, NextStep.relink_institution, (), ()
    )


def test_account_scope_reread_of_nothing_is_no_account() -> None:
    verdict = verdict_from([], RelinkScope.account)

    assert (verdict.outcome, verdict.failure_reason) == (
        RelinkOutcome.failed,
        FailureReason.no_account,
    )


def test_institution_scope_reread_links_the_accounts_that_work_now_and_did_not() -> None:
    verdict = verdict_from(
        [now("fca_checking", status="inactive", action="none"), now("fca_savings"), now("fca_ok")],
        RelinkScope.institution,
        at_start={**BROKEN_AT_START, "fca_ok": LinkHealth.ok},
    )

    assert verdict == Verdict(RelinkOutcome.relinked, None, NextStep.none, ("fca_savings",), ())


def test_institution_scope_reread_of_an_account_stored_since_is_a_new_account() -> None:
    # Stored (by its account.created webhook) after the session began: the account the
    # customer has just linked.
    verdict = verdict_from(
        [now("fca_checking", status="inactive", action="none"), now("fca_new")],
        RelinkScope.institution,
    )

    assert verdict == Verdict(
        RelinkOutcome.new_account,
        None,
        NextStep.set_up_payment_method,
        ("fca_new",),
        ("fca_new",),
    )


def test_institution_scope_reread_with_nothing_repaired_is_no_account() -> None:
    verdict = verdict_from(
        [now("fca_checking", status="inactive"), now("fca_ok")],
        RelinkScope.institution,
        at_start={**BROKEN_AT_START, "fca_ok": LinkHealth.ok},
    )

    assert verdict == Verdict(
        RelinkOutcome.failed, FailureReason.no_account, NextStep.set_up_payment_method, (), ()
    )
