"""Account events from link-health transitions, written in the transaction that applies the
snapshot (``accounts.state`` calls ``on_applied`` for every snapshot it records).

A snapshot whose health did not move costs nothing here. One that did emits its event and
opens, turns or closes the account's episode:

- into ``relink_required``: ``account.relink_required``; a break opens (an expiring episode
  becomes the break), opened at the account's ``inactive_since``;
- into ``expiring``: ``account.expiring``; an expiring episode opens (an open break closes
  first: the link works again);
- into ``unrepairable``: ``account.unrepairable``; the open episode ends (``unrepairable``);
- into ``disconnected``: no event (nothing is left to prompt for); the episode ends;
- into ``ok``: the open episode closes (``relinked`` if a relink session read it, else
  ``recovered``) and ``account.recovered`` is emitted, once per episode;
- into ``unknown``: nothing, until Stripe reports a status this code knows.

A relink that links another account in place of this one closes this one's episode as
``new_account``, though it stays inactive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from relink_api.accounts.models import AccountRow
from relink_api.accounts.schemas import LinkHealth
from relink_api.db import Connection
from relink_api.outbound import outbox
from relink_api.outbound.event_types import OutboundEventType
from relink_api.prompts import repository
from relink_api.prompts.payloads import account_event
from relink_api.prompts.schedule import Schedule

if TYPE_CHECKING:
    # Only for annotations: accounts.state imports this module.
    from relink_api.accounts.state import AppliedSnapshot, RelinkRead

# Healths an account recovers from when it is ok again.
_NOT_WORKING = frozenset({LinkHealth.relink_required, LinkHealth.expiring, LinkHealth.unrepairable})


async def on_applied(conn: Connection, result: AppliedSnapshot, relink: RelinkRead | None) -> None:
    """Emit the event of the snapshot's health transition, and keep episodes in step;
    ``relink``: the relink read that applied it, if one did."""
    after = result.after
    if (
        relink is not None
        and relink.replaces_account_id is not None
        and after.replaces_account_id == relink.replaces_account_id
        and after.replacement_relink_session_id == relink.session_id
    ):
        await repository.close_open(
            conn, account_id=relink.replaces_account_id, at=after.state_as_of, reason="new_account"
        )
    previous = result.before.link_health if result.before is not None else None
    health = after.link_health
    if health is previous or (previous is None and health is LinkHealth.ok):
        return
    # Working again: through the relink session that read it, or on its own (the bank).
    repaired: repository.CloseReason = "relinked" if relink is not None else "recovered"
    match health:
        case LinkHealth.relink_required:
            broke = await _prompt(conn, OutboundEventType.account_relink_required, after, previous)
            await repository.broke(conn, broke, broken_at=after.inactive_since or after.state_as_of)
        case LinkHealth.expiring:
            await _close(conn, after, repaired, only_kind=Schedule.broken)
            expiring = await _prompt(conn, OutboundEventType.account_expiring, after, previous)
            expected_at = after.expected_deactivation_at or after.account_number_expires_at
            await repository.expiring(conn, expiring, expected_at=expected_at)
        case LinkHealth.unrepairable:
            await _close(conn, after, "unrepairable")
            await _emit(conn, OutboundEventType.account_unrepairable, after, previous)
        case LinkHealth.disconnected:
            await _close(conn, after, "disconnected")
        case LinkHealth.ok:
            closed = await _close(conn, after, repaired)
            if closed or previous in _NOT_WORKING:
                await _emit(conn, OutboundEventType.account_recovered, after, previous)
        case LinkHealth.unknown:
            pass


async def _close(
    conn: Connection,
    after: AccountRow,
    reason: repository.CloseReason,
    *,
    only_kind: Schedule | None = None,
) -> bool:
    return await repository.close_open(
        conn, account_id=after.id, at=after.state_as_of, reason=reason, only_kind=only_kind
    )


async def _prompt(
    conn: Connection, type: OutboundEventType, after: AccountRow, previous: LinkHealth | None
) -> repository.Transition:
    """Emit the transition's event: the first prompt of the episode it opens."""
    event_id = await _emit(conn, type, after, previous)
    return repository.Transition(
        after.id, after.customer_id, after.cause, after.state_as_of, event_id
    )


async def _emit(
    conn: Connection, type: OutboundEventType, after: AccountRow, previous: LinkHealth | None
) -> str:
    return await outbox.emit(
        conn,
        type,
        account_event(type, after, previous=previous),
        at=after.state_as_of,
        account_id=after.id,
        customer_id=after.customer_id,
    )
