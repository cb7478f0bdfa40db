"""Group commit for webhook account events: deliveries that reach the one-statement path
together are applied by one statement in one transaction, so that N events cost one round
trip and one commit (one WAL flush) instead of N.

No timer: an event that arrives while no batch is in flight goes at once, alone (the one
statement of ``state.apply_at_once``); those that arrive while one is in flight wait for
it, then go together in the next, at most ``MAX_BATCH`` at a time. Each delivery hears its
own result only once its batch has committed, so it is as durable as before. A batch that
fails commits nothing, and each of its events is then applied alone, as it would have been
without batches: one bad event fails only its own delivery.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from relink_api.accounts import notice_repository, state
from relink_api.accounts.notice_repository import ACCOUNT_ID, AccountEvent, Outcome
from relink_api.accounts.state import Observation
from relink_api.db import Database
from relink_api.gateway.objects import StripeEvent

logger = logging.getLogger(__name__)

# A batch's statement grows with its events and holds their accounts' locks until it
# commits: bounded, so that one batch never holds many locks for long.
MAX_BATCH = 64
# One batch in flight while the next gathers: measured against two (bench/README.md).
MAX_IN_FLIGHT = 1


class _BatchFailed(Exception):
    """The batch committed nothing: apply the event alone."""


@dataclass(slots=True)
class _Waiting:
    account_id: str
    event: AccountEvent
    outcome: asyncio.Future[Outcome | None]


class AtOnceBatches:
    """The events waiting for, or in, a batch on one database."""

    def __init__(self, *, max_batch: int = MAX_BATCH, max_in_flight: int = MAX_IN_FLIGHT):
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._queue: deque[_Waiting] = deque()
        self._runners: set[asyncio.Task[None]] = set()

    async def apply(self, db: Database, event: AccountEvent) -> Outcome | None:
        """``event``'s result once the transaction that applied it has committed (``None``:
        nothing was written). A delivery cancelled while it waits leaves its event either
        unapplied (not yet in a batch) or applied once (its batch went on without it)."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(event[ACCOUNT_ID], event, loop.create_future())
        self._queue.append(waiting)
        if len(self._runners) < self._max_in_flight:
            self._runners.add(loop.create_task(self._run(db)))
        try:
            return await waiting.outcome
        except _BatchFailed:
            pass
        async with db.connection() as conn:
            return await notice_repository.apply_event(conn, event)

    async def drain(self) -> None:
        """Until every event taken has its result (at shutdown, before the pool closes)."""
        while self._runners:
            await asyncio.gather(*self._runners, return_exceptions=True)

    async def _run(self, db: Database) -> None:
        batch: list[_Waiting] = []
        try:
            while batch := self._take():
                try:
                    outcomes = await _applied(db, [waiting.event for waiting in batch])
                except Exception as exc:  # each event then meets its own error, alone
                    logger.warning(
                        "a batch of %d webhook account events committed nothing (%s: %s); "
                        "each is applied alone",
                        len(batch),
                        type(exc).__name__,
                        exc,
                    )
                    _fail(batch)
                    continue
                for waiting, outcome in zip(batch, outcomes, strict=True):
                    if not waiting.outcome.done():
                        waiting.outcome.set_result(outcome)
        finally:
            # Out of the set before anything else runs: an event queued from now on starts
            # a runner of its own.
            if (this := asyncio.current_task()) is not None:
                self._runners.discard(this)
            # Cancelled (the event loop closing): nobody is left waiting for ever.
            _fail(batch)
            if not self._runners:
                _fail(self._queue)
                self._queue.clear()

    def _take(self) -> list[_Waiting]:
        """The next batch: the oldest events still awaited, by account id (stable, so an
        account's events keep their order), the order writers of several accounts lock
        them in."""
        batch: list[_Waiting] = []
        while self._queue and len(batch) < self._max_batch:
            waiting = self._queue.popleft()
            if not waiting.outcome.done():  # a delivery cancelled while it waited
                batch.append(waiting)
        batch.sort(key=attrgetter("account_id"))
        return batch


async def _applied(db: Database, events: list[AccountEvent]) -> list[Outcome | None]:
    async with db.connection() as conn:
        if len(events) == 1:
            return [await notice_repository.apply_event(conn, events[0])]
        return await notice_repository.apply_events(conn, events)


def _fail(batch: Iterable[_Waiting]) -> None:
    for waiting in batch:
        if not waiting.outcome.done():
            waiting.outcome.set_exception(_BatchFailed())


# One set of batches per database, made on first use and drained when its pool closes.
_BATCHES: weakref.WeakKeyDictionary[Database, AtOnceBatches] = weakref.WeakKeyDictionary()


def batches(db: Database) -> AtOnceBatches:
    """The batches of ``db``'s webhook account events."""
    found = _BATCHES.get(db)
    if found is None:
        found = _BATCHES[db] = AtOnceBatches()
        db.before_close(found.drain)
    return found


async def apply_at_once(
    db: Database, observation: Observation, event: StripeEvent, payload: dict[str, Any]
) -> Outcome | None:
    """``state.apply_at_once``, in a batch with the events that arrive meanwhile; ``None``:
    nothing was written, ``state.apply`` the snapshot in a transaction."""
    element = state.at_once_event(observation, event, payload)
    return None if element is None else await batches(db).apply(db, element)
