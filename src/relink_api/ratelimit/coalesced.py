"""One key's turns for a process's concurrent callers, taken together: one statement (and
one pooled connection) for every caller that asked while the previous take was running.

The Stripe budget is one row that every HTTP attempt to Stripe takes from. Taken one
statement per attempt, concurrent attempts queue on that row's lock, each holding a pooled
connection until the one ahead has committed; at a hundred attempts in flight that is the
pool's whole capacity spent waiting. Taken together, a process has at most one statement on
the row at a time, whatever its load, and under load one statement serves many attempts.

Several turns at once are one GCRA check of a request that weighs ``n`` cells: it may go if
its last cell may (the first ``n - 1`` then may too), and it moves ``tat`` on by ``n``
intervals. The cells are spaced exactly as ``n`` checks one after the other would space
them, so taking them together lets no more through, and no sooner.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from relink_api.db import Database
from relink_api.ratelimit import repository


@dataclass(frozen=True, slots=True)
class Turn:
    """``allowed``: go after ``wait`` seconds. Refused: a turn would be free to go (with no
    waiting) after ``wait`` seconds."""

    allowed: bool
    wait: float


class CoalescedTurns:
    """Turns of ``key`` at one every ``interval`` seconds, ``tolerance`` seconds of burst,
    each granted if it can go within ``max_wait`` seconds."""

    def __init__(
        self, db: Database, *, key: str, interval: float, tolerance: float, max_wait: float
    ) -> None:
        self._db = db
        self._key = key
        self._interval = interval
        self._tolerance = tolerance
        self._max_wait = max_wait
        # As many as an untouched bucket grants at once: a larger take could only fail.
        self._most = max(1, math.floor((tolerance + max_wait) / interval) + 1)
        self._waiting: list[asyncio.Future[Turn]] = []
        self._taking: asyncio.Task[None] | None = None

    @property
    def most_at_once(self) -> int:
        """The most turns one statement takes."""
        return self._most

    async def take(self) -> Turn:
        """This caller's turn, decided together with every other caller waiting for one."""
        turn: asyncio.Future[Turn] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        if self._taking is None:
            self._taking = asyncio.create_task(self._take_all(), name=f"turns:{self._key}")
        return await turn

    async def _take_all(self) -> None:
        batch: list[asyncio.Future[Turn]] = []
        try:
            while self._waiting:
                batch = self._waiting[: self._most]
                del self._waiting[: len(batch)]
                try:
                    turns = await self._decide(len(batch))
                except Exception as exc:
                    for waiter in batch:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    continue
                for waiter, turn in zip(batch, turns, strict=True):
                    # A caller that gave up (its request cancelled) has spent its turn.
                    if not waiter.done():
                        waiter.set_result(turn)
        finally:
            # Cancelled (the app stopping): nobody is left waiting on a turn never decided.
            for waiter in (*batch, *self._waiting):
                if not waiter.done():
                    waiter.cancel()
            self._waiting.clear()
            self._taking = None

    async def _decide(self, count: int) -> list[Turn]:
        """``count`` turns, in order: as many as can go within ``max_wait``, the rest
        refused (exactly what ``count`` single checks in a row would decide)."""
        turns: list[Turn] = []
        want = count
        while len(turns) < count:
            async with self._db.connection() as conn:
                checked = await repository.check(
                    conn,
                    key=self._key,
                    interval=want * self._interval,
                    tolerance=self._tolerance - (want - 1) * self._interval,
                    max_wait=self._max_wait,
                )
            if checked.allowed:
                # `ahead` is past all `want` cells; the first is spaced from `ahead - want·I`.
                first = checked.ahead - want * self._interval - self._tolerance
                turns += [
                    Turn(allowed=True, wait=max(0.0, first + n * self._interval))
                    for n in range(want)
                ]
                want = count - len(turns)
                continue
            # Nothing was taken; `ahead` is how far the bucket's tat is past now.
            room = self._tolerance + self._max_wait - max(0.0, checked.ahead)
            fits = math.floor(room / self._interval) + 1
            want = min(fits, want - 1)
            if want <= 0:
                refused = Turn(allowed=False, wait=max(0.0, checked.ahead - self._tolerance))
                turns += [refused] * (count - len(turns))
        return turns
