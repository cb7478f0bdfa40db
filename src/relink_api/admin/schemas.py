"""The operator API contract: accounts across customers, counts, and relinks started for a
customer."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from relink_api.accounts.schemas import ACCOUNT_EXAMPLE, AccountRead, LinkHealth
from relink_api.outbound.schemas import EndpointHealth
from relink_api.relink.schemas import RelinkScope, RelinkSessionStatus
from relink_api.web.examples import with_examples


class AdminAccountRead(AccountRead):
    """A linked bank account, its link health and the customer who owns it."""

    model_config = with_examples({**ACCOUNT_EXAMPLE, "customer_id": "cus_Kmaci5w0veLUJZ"})

    customer_id: str | None = Field(
        description="The Stripe customer who owns the account; null for an account Stripe "
        "holds without an account holder that nobody has been assigned yet.",
        examples=["cus_Kmaci5w0veLUJZ"],
    )


class AdminAccountList(BaseModel):
    """A page of accounts of every customer, oldest id first."""

    model_config = with_examples(
        {
            "data": [{**ACCOUNT_EXAMPLE, "customer_id": "cus_Kmaci5w0veLUJZ"}],
            "has_more": False,
            "next_cursor": None,
        }
    )

    data: list[AdminAccountRead]
    has_more: bool
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class HealthCounts(BaseModel):
    """How many accounts have each link health; every health is present."""

    ok: int = Field(ge=0)
    expiring: int = Field(ge=0)
    relink_required: int = Field(ge=0)
    unrepairable: int = Field(ge=0)
    disconnected: int = Field(ge=0)
    unknown: int = Field(ge=0, description="Accounts whose Stripe status is newer than this code.")


class CauseCount(BaseModel):
    """How many accounts of one link health share one cause."""

    health: LinkHealth
    cause: str | None = Field(
        description="Stripe's cause (access_expired, account_closed, …); null when Stripe "
        "gave none, e.g. for an account expiring only by its tokenized account number."
    )
    count: int = Field(ge=1)


class WeeklyDeactivations(BaseModel):
    """How many expiring accounts are expected to stop working in one week."""

    week_start: date = Field(description="The Monday (UTC) the week begins on.")
    count: int = Field(ge=0)


class RepairOutcomes(BaseModel):
    """How repaired breaks came back."""

    relinked: int = Field(ge=0, description="A relink session repaired the account itself.")
    new_account: int = Field(
        ge=0,
        description="The customer linked another account in place of it (the broken one "
        "stays inactive).",
    )
    recovered: int = Field(ge=0, description="It came back without a relink (the bank did).")


class EndedOutcomes(BaseModel):
    """Breaks that ended without a repair."""

    unrepairable: int = Field(ge=0, description="Stripe said nothing can repair it.")
    disconnected: int = Field(ge=0)


class FunnelRow(BaseModel):
    """The links that broke in one week with one cause, and what became of them."""

    week_start: date = Field(description="The Monday (UTC) of the week the links broke in.")
    cause: str | None = Field(description="Stripe's cause at the break; null if it gave none.")
    broken: int = Field(ge=1, description="Links that broke (an expiring one when it broke).")
    prompted: int = Field(
        ge=0, description="Of those, prompted: an event of theirs delivered, or an email sent."
    )
    prompted_by_event: int = Field(
        ge=0, description="An account event of theirs was delivered to an endpoint."
    )
    prompted_by_email: int = Field(ge=0, description="Stripe was asked to email a relink.")
    relink_started: int = Field(
        ge=0, description="The customer started a relink (or one repaired or replaced it)."
    )
    repaired: RepairOutcomes
    ended: EndedOutcomes
    still_broken: int = Field(ge=0, description="Not repaired nor ended yet.")
    median_hours_to_repair: float | None = Field(
        description="Median hours from the break to its repair; null if none was repaired."
    )


class RepairFunnel(BaseModel):
    """Does prompting repair links? Breaks by week and cause, followed to their end."""

    since: date = Field(description="The Monday (UTC) the first week counted begins on.")
    weeks: int = Field(ge=1)
    rows: list[FunnelRow] = Field(
        description="Weeks with breaks, oldest first; most frequent cause first in a week."
    )


class AdminSummary(BaseModel):
    """Link health across every customer, for dashboards and alerts."""

    model_config = with_examples(
        {
            "accounts_total": 1250,
            "by_health": {
                "ok": 1130,
                "expiring": 42,
                "relink_required": 61,
                "unrepairable": 12,
                "disconnected": 5,
                "unknown": 0,
            },
            "by_cause": [
                {"health": "expiring", "cause": "access_expired", "count": 30},
                {"health": "expiring", "cause": None, "count": 12},
                {"health": "relink_required", "cause": "access_expired", "count": 48},
                {"health": "relink_required", "cause": "access_revoked", "count": 13},
                {"health": "unrepairable", "cause": "account_closed", "count": 12},
                {"health": "disconnected", "cause": None, "count": 5},
            ],
            "upcoming_deactivations": [
                {"week_start": "2026-11-23", "count": 9},
                {"week_start": "2026-11-30", "count": 14},
                {"week_start": "2026-12-07", "count": 6},
                {"week_start": "2026-12-14", "count": 0},
                {"week_start": "2026-12-21", "count": 3},
                {"week_start": "2026-12-28", "count": 0},
                {"week_start": "2027-01-04", "count": 1},
                {"week_start": "2027-01-11", "count": 0},
            ],
            "funnel": {
                "since": "2026-10-05",
                "weeks": 8,
                "rows": [
                    {
                        "week_start": "2026-11-16",
                        "cause": "access_expired",
                        "broken": 20,
                        "prompted": 18,
                        "prompted_by_event": 18,
                        "prompted_by_email": 6,
                        "relink_started": 13,
                        "repaired": {"relinked": 10, "new_account": 2, "recovered": 1},
                        "ended": {"unrepairable": 1, "disconnected": 0},
                        "still_broken": 6,
                        "median_hours_to_repair": 30.5,
                    }
                ],
            },
            "webhook_endpoints_unhealthy": [
                {
                    "id": "we_4b1d9c2e7f0a8b3c5d6e1f2a",
                    "url": "https://app.example.com/webhooks/relink",
                    "status": "enabled",
                    "failing_since": "2026-11-25T09:00:00Z",
                    "disabled_at": None,
                    "disabled_reason": None,
                    "pending_deliveries": 14,
                }
            ],
            "as_of": "2026-11-26T12:00:00Z",
        }
    )

    accounts_total: int = Field(ge=0, description="Every stored account, owned or not.")
    by_health: HealthCounts
    by_cause: list[CauseCount] = Field(
        description="Accounts that are not ok, by health and cause; most frequent cause first "
        "within each health."
    )
    upcoming_deactivations: list[WeeklyDeactivations] = Field(
        description="Expiring accounts by the week they are expected to stop working (the "
        "expected deactivation date, or the tokenized account number's expiry when that is "
        "what makes them expiring): this week and the seven after it, empty weeks included."
    )
    funnel: RepairFunnel = Field(
        description="Links broken in the last `weeks` weeks, per week and cause: how many "
        "were prompted, started a relink, were repaired (and how), and how fast."
    )
    webhook_endpoints_unhealthy: list[EndpointHealth] = Field(
        description="The host application's endpoints that are failing (every delivery "
        "since `failing_since` failed) or disabled: their customers are not being prompted."
    )
    as_of: datetime = Field(description="The moment the counts describe.")


class AdminRelinkEmailCreate(BaseModel):
    """Ask Stripe to email the account's customer a link to repair it."""

    model_config = with_examples({"scope": "account"}, extra="forbid")

    scope: RelinkScope = RelinkScope.account


class AdminRelinkEmailCreated(BaseModel):
    """A hosted relink session Stripe emails to the customer. It has no client secret and no
    URL by design: only the customer may open the relink."""

    model_config = with_examples(
        {
            "id": "rls_3f9c2a7d41b8e6f0a2c4d5e6",
            "stripe_session_id": "fcsess_1PZ3xY2eZvKYlo2C",
            "customer_id": "cus_Kmaci5w0veLUJZ",
            "scope": "account",
            "account_id": "fca_1PZ3xY2eZvKYlo2C",
            "authorization_id": "fcauth_1PZ3xY2eZvKYlo2C",
            "status": "open",
            "created_at": "2026-11-26T12:00:00Z",
        }
    )

    id: str = Field(description="relink-api's session id; follow it with the customer's token.")
    stripe_session_id: str
    customer_id: str = Field(description="The customer Stripe emails.")
    scope: RelinkScope
    account_id: str
    authorization_id: str
    status: RelinkSessionStatus
    created_at: datetime
