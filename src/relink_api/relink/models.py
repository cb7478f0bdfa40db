"""Stored relink sessions, typed as the service uses them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from relink_api.accounts.schemas import LinkHealth
from relink_api.relink.schemas import (
    Delivery,
    FailureReason,
    NextStep,
    RelinkOutcome,
    RelinkScope,
    RelinkSessionStatus,
    UiMode,
)


@dataclass(frozen=True, slots=True)
class RelinkSessionRow:
    id: str
    stripe_session_id: str
    customer_id: str
    scope: RelinkScope
    authorization_id: str
    account_id: str
    ui_mode: UiMode
    permissions: list[str]
    return_url: str | None
    status: RelinkSessionStatus
    outcome: RelinkOutcome | None
    failure_reason: FailureReason | None
    next_step: NextStep | None
    linked_account_ids: list[str]
    reactivated_account_ids: list[str]
    stripe_status: str | None
    created_at: datetime
    completed_at: datetime | None
    # The link health of each of the customer's accounts on the authorization when the
    # session began: what a completion's reactivated accounts are judged against.
    accounts_at_start: dict[str, LinkHealth]
    delivery: Delivery | None
    return_token_sha256: str | None

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> RelinkSessionRow:
        values = dict(record)
        for name in ("permissions", "linked_account_ids", "reactivated_account_ids"):
            values[name] = list(values[name] or [])
        values["scope"] = RelinkScope(values["scope"])
        values["ui_mode"] = UiMode(values["ui_mode"])
        values["status"] = RelinkSessionStatus(values["status"])
        values["accounts_at_start"] = {
            account_id: LinkHealth(health)
            for account_id, health in (values["accounts_at_start"] or {}).items()
        }
        for name, kind in (
            ("outcome", RelinkOutcome),
            ("failure_reason", FailureReason),
            ("next_step", NextStep),
            ("delivery", Delivery),
        ):
            values[name] = kind(values[name]) if values[name] is not None else None
        return cls(**values)
