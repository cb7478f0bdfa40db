"""SQL for a webhook's account snapshot applied, and its event recorded, in one statement
(``relink_apply_account_event``, migration 0015), alone or with others in one transaction
(``relink_apply_account_events``, migration 0017). Private to the accounts package: the
webhooks feature reaches it through ``accounts.state`` and ``accounts.at_once_batch``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, cast

from relink_api.accounts.models import AccountState
from relink_api.db import Connection
from relink_api.db.documents import encode_json
from relink_api.gateway.objects import FcAccount, StripeEvent

Outcome = Literal["applied", "stale", "duplicate"]

# The function's arguments for one event, in its order; the account id is ACCOUNT_ID's.
AccountEvent = tuple[Any, ...]
ACCOUNT_ID = 5
_PAYLOAD, _ACCOUNT_HOLDER = 4, 20

# Fixed texts: asyncpg prepares each once per connection and reuses the statement.
_APPLY = "SELECT relink_apply_account_event(" + ", ".join(f"${n}" for n in range(1, 22)) + ")"
_APPLY_ALL = "SELECT relink_apply_account_events($1::relink_account_event[])"


def account_event(
    event: StripeEvent, payload: dict[str, Any], account: FcAccount, raw: dict[str, Any]
) -> AccountEvent:
    """What the functions take to record ``event`` and apply ``account`` as of the event's
    ``created``. They store ``payload``'s ``data.object`` as the snapshot: ``raw`` must be
    that object, and is not sent twice."""
    state = AccountState.reported(account, raw)
    return (
        event.id,
        event.type,
        event.api_version,
        event.created_at,
        payload,
        account.id,
        account.customer,
        *state.values()[:-1],  # authorization_id … account_holder: the snapshot is last
    )


async def apply_event(conn: Connection, event: AccountEvent) -> Outcome | None:
    """Apply one event in one statement (its own transaction: call it outside any).
    ``None``: nothing was written."""
    return cast("Outcome | None", await conn.fetchval(_APPLY, *event))


async def apply_events(conn: Connection, events: Sequence[AccountEvent]) -> list[Outcome | None]:
    """Apply several events, in their order, in one statement (its own transaction: call it
    outside any); each one's result, as ``apply_event`` would give it. Nothing is written
    if any of them fails."""
    outcomes = await conn.fetchval(_APPLY_ALL, [_with_text_documents(event) for event in events])
    return cast("list[Outcome | None]", outcomes)


def _with_text_documents(event: AccountEvent) -> AccountEvent:
    """The event as ``relink_account_event`` takes it: its JSON documents as text."""
    holder = event[_ACCOUNT_HOLDER]
    return (
        *event[:_PAYLOAD],
        encode_json(event[_PAYLOAD]),
        *event[_PAYLOAD + 1 : _ACCOUNT_HOLDER],
        None if holder is None else encode_json(holder),
    )
