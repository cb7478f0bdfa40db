"""The ``data`` of the account events (``account.relink_required``, ``account.expiring``,
``account.unrepairable``, ``account.recovered``), as docs/events.md describes them.

Nothing secret goes in: the account as its customer sees it, its health, and where to send
the customer (relative paths; the host application adds its customer's token).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from relink_api.accounts.models import AccountRow
from relink_api.accounts.schemas import AccountRead, LinkHealth
from relink_api.outbound.event_types import OutboundEventType
from relink_api.prompts.schedule import Schedule

# The events that ask the host application to send its customer to a relink.
_RELINKABLE = frozenset(
    {OutboundEventType.account_relink_required, OutboundEventType.account_expiring}
)

# Where the bundled relink page is served, relative to relink-api's base URL.
PAGE_PATH = "/"


@dataclass(frozen=True, slots=True)
class Reminder:
    """A scheduled reminder's place in its schedule."""

    schedule: Schedule
    number: int
    of: int
    broken_since: datetime | None
    expected_at: datetime | None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _relink(account_id: str) -> dict[str, Any]:
    return {
        "page_path": PAGE_PATH,
        # How the customer (with its own token) gets a Stripe-hosted relink URL on request.
        "hosted_relink_request": {
            "method": "POST",
            "path": "/v1/relink-sessions",
            "body": {"account_id": account_id, "ui_mode": "hosted", "delivery": "url"},
        },
    }


def account_event(
    type: OutboundEventType,
    account: AccountRow,
    *,
    previous: LinkHealth | None,
    reminder: Reminder | None = None,
) -> dict[str, Any]:
    """The event's ``data`` for ``account`` as it is now; ``previous``: its health before
    (for a reminder, the same health: nothing moved)."""
    return {
        # Exactly as GET /v1/accounts/{id} shows it to its customer.
        "account": AccountRead.model_validate(account, from_attributes=True).model_dump(
            mode="json"
        ),
        "customer_id": account.customer_id,
        "link_health": account.link_health.value,
        "previous_link_health": previous.value if previous is not None else None,
        "reminder": (
            {
                "schedule": reminder.schedule.value,
                "number": reminder.number,
                "of": reminder.of,
                "broken_since": _iso(reminder.broken_since),
                "expected_at": _iso(reminder.expected_at),
            }
            if reminder is not None
            else None
        ),
        "relink": _relink(account.id) if type in _RELINKABLE else None,
    }
