"""Tokenized account numbers (TANs): the ``account_numbers`` of an FC account at the sandbox's
TAN institution, in Stripe's shape (docs/stripe.md §2).

A TAN is issued when the account is linked, expires on a date the bank sets, and is replaced
by a new one each time the customer authorizes the account again (a relink). Accounts at the
other institutions have real account numbers, which Stripe does not list: ``[]``.
"""

from __future__ import annotations

import time
from typing import Any

INSTITUTION_ID = "fcinst_TokenizedAccountNumbers"
INSTITUTION_NAME = "Tokenized Account Numbers"
TOKENIZED = "tokenized_account_number"
DAY = 86_400
# How long a TAN the sandbox issues lasts; at Stripe the bank decides.
LIFETIME_DAYS = 365


def _tan(*, status: str) -> dict[str, Any]:
    return {
        "expected_expiry_date": int(time.time()) + LIFETIME_DAYS * DAY,
        "identifier_type": TOKENIZED,
        "status": status,
        "supported_networks": ["ach"],
    }


def issue(institution_id: str, subcategory: str, *, active: bool) -> list[dict[str, Any]]:
    """A new account's ``account_numbers``: one TAN at the TAN institution (deactivated if
    the account starts out broken), none elsewhere and none for a card."""
    if institution_id != INSTITUTION_ID or subcategory == "credit_card":
        return []
    return [_tan(status="transactable" if active else "deactivated")]


def tokenized(account: dict[str, Any]) -> list[dict[str, Any]]:
    """The account's tokenized numbers (the entries themselves, to change in place)."""
    return [
        number
        for number in account.get("account_numbers") or []
        if number.get("identifier_type") == TOKENIZED
    ]


def deactivated(numbers: list[dict[str, Any]] | None) -> bool:
    """Whether a TAN among ``numbers`` is deactivated: its payment methods are then blocked."""
    return any(
        number.get("identifier_type") == TOKENIZED and number.get("status") == "deactivated"
        for number in numbers or []
    )


def transactable(account: dict[str, Any]) -> list[dict[str, Any]]:
    """The account's TANs that can be used for transfers now."""
    return [number for number in tokenized(account) if number.get("status") == "transactable"]


def expire_at(account: dict[str, Any], moment: int) -> None:
    """Move the expiry of the account's transactable TANs to ``moment``."""
    for number in transactable(account):
        number["expected_expiry_date"] = moment


def reissue(account: dict[str, Any]) -> bool:
    """Replace the account's TANs with a new, transactable one, as the bank does on each
    authorization. False, and nothing changed, for an account without TANs or whose TAN
    was issued within the last day (an account linked new in the same session)."""
    fresh = _tan(status="transactable")
    current = tokenized(account)
    if not current or all(
        number.get("status") == "transactable"
        and (number.get("expected_expiry_date") or 0) > fresh["expected_expiry_date"] - DAY
        for number in current
    ):
        return False
    kept = [number for number in account["account_numbers"] if number not in current]
    account["account_numbers"] = [*kept, fresh]
    return True
