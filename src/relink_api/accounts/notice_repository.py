"""SQL for a webhook's account snapshot applied, and its event recorded, in one statement
(``relink_apply_account_event``, migration 0015). Private to the accounts package: the
webhooks feature reaches it through ``accounts.state.apply_at_once``."""

from __future__ import annotations

from typing import Any, Literal, cast

from relink_api.accounts.models import AccountState
from relink_api.db import Connection
from relink_api.gateway.objects import FcAccount, StripeEvent

Outcome = Literal["applied", "stale", "duplicate"]

# One fixed text: asyncpg prepares it once per connection and reuses the statement.
_APPLY = "SELECT relink_apply_account_event(" + ", ".join(f"${n}" for n in range(1, 22)) + ")"


async def apply_event(
    conn: Connection,
    event: StripeEvent,
    payload: dict[str, Any],
    account: FcAccount,
    raw: dict[str, Any],
) -> Outcome | None:
    """Record ``event`` and apply ``account`` as of the event's ``created``, in one statement
    (its own transaction: call it outside any). ``None``: nothing was written.

    The function stores ``payload``'s ``data.object`` as the snapshot: ``raw`` must be that
    object, and is not sent twice."""
    state = AccountState.reported(account, raw)
    outcome = await conn.fetchval(
        _APPLY,
        event.id,
        event.type,
        event.api_version,
        event.created_at,
        payload,
        account.id,
        account.customer,
        *state.values()[:-1],  # authorization_id … account_holder: the snapshot is last
    )
    return cast("Outcome | None", outcome)
