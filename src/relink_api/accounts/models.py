"""Stored accounts and what is counted over them, typed as the service uses them."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import asyncpg

from relink_api.accounts.schemas import LinkHealth
from relink_api.gateway.objects import FcAccount


class OwnerSource(StrEnum):
    """Who named an account's customer: Stripe's account holder, an operator, or the relink
    that linked a holder-less account."""

    account_holder = "account_holder"
    operator = "operator"
    relink = "relink"


class Source(StrEnum):
    """Who reported a snapshot: the ``source`` of the history row it writes."""

    refresh = "refresh"
    sync = "sync"
    import_ = "import"
    relink = "relink"
    webhook = "webhook"


@dataclass(frozen=True, slots=True)
class ReportedState:
    """What Stripe reports of an account, as the accounts table stores it."""

    authorization_id: str | None
    institution_id: str | None
    institution_name: str | None
    display_name: str | None
    last4: str | None
    category: str | None
    subcategory: str | None
    # Stripe's status as it sent it: a value newer than this code is kept as it is (the
    # API shows it as ``AccountStatus``, where it reads ``unknown``).
    status: str
    action: str | None
    cause: str | None
    expected_deactivation_at: datetime | None
    account_number_expires_at: datetime | None
    permissions: list[str]
    account_holder: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class AccountState(ReportedState):
    """Everything a Stripe snapshot sets on a stored account, in column order."""

    snapshot: dict[str, Any]

    @classmethod
    def reported(cls, account: FcAccount, raw: dict[str, Any]) -> AccountState:
        """What ``account`` (``raw``: as Stripe sent it) sets on the stored account."""
        return cls(
            authorization_id=account.authorization,
            institution_id=account.institution,
            institution_name=account.institution_name,
            display_name=account.display_name,
            last4=account.last4,
            category=account.category,
            subcategory=account.subcategory,
            status=account.status,
            action=account.action,
            cause=account.cause,
            expected_deactivation_at=account.expected_deactivation_at,
            account_number_expires_at=account.account_number_expires_at,
            permissions=list(account.permissions or []),
            account_holder=account.account_holder.model_dump() if account.account_holder else None,
            snapshot=raw,
        )

    def values(self) -> tuple[Any, ...]:
        """Parameters for the columns authorization_id … snapshot, in that order."""
        return tuple(getattr(self, field.name) for field in fields(self))


@dataclass(frozen=True, slots=True)
class AccountRow(ReportedState):
    """A stored account: Stripe's state, its owner, and what a relink left on it."""

    id: str
    customer_id: str | None
    owner_source: OwnerSource
    state_as_of: datetime
    inactive_since: datetime | None
    needs_payment_method: bool
    replaces_account_id: str | None
    replacement_relink_session_id: str | None
    updated_at: datetime
    # Computed by the database (relink_link_health, the first migration) as of the read.
    link_health: LinkHealth

    @property
    def needs_new_payment_method(self) -> bool:
        """The name the API gives ``needs_payment_method``."""
        return self.needs_payment_method

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> AccountRow:
        values = dict(record)
        values["permissions"] = list(values["permissions"] or [])
        values["owner_source"] = OwnerSource(values["owner_source"])
        values["link_health"] = LinkHealth(values["link_health"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Replacement:
    """Marks on an account linked in place of another: it needs a new payment method, set
    up through the relink session that linked it."""

    replaces_account_id: str
    relink_session_id: str


@dataclass(frozen=True, slots=True)
class AccountFilter:
    """Which accounts a listing shows: ``customer_id`` ``None`` is every customer's (the
    operator's view), so the customer-facing listing always names its caller."""

    customer_id: str | None
    health: tuple[LinkHealth, ...] = ()
    institution_id: str | None = None


@dataclass(frozen=True, slots=True)
class HealthCauseCount:
    health: LinkHealth
    cause: str | None
    count: int


@dataclass(frozen=True, slots=True)
class WeekCount:
    week_start: date
    count: int


@dataclass(frozen=True, slots=True)
class AccountCounts:
    """Every stored account counted by health and cause, and the expiring ones by the week
    they stop working in, read from one snapshot of the table."""

    by_health_and_cause: list[HealthCauseCount]
    deactivations_by_week: list[WeekCount]
