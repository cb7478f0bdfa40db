"""The pace of one run's HTTP attempts to Stripe (``StripeGateway.paced``)."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable


class Pace:
    """At most ``per_second`` attempts in any one second, one at a time, spaced evenly.

    Each attempt is given a slot ``1 / per_second`` after the last one's slot, not after
    the moment the last one got through: an event loop under load wakes a sleeper a few
    milliseconds late, and spacing from the wake-up would lose that much on every attempt
    (a tenth of the rate at 25 a second). What bounds any one second is the attempt
    ``per_second`` before: it must be a second old. An idle spell earns no burst."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = 1 / per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._next_slot = -math.inf
        self._passed: deque[float] = deque(maxlen=max(1, math.floor(per_second)))

    async def wait(self) -> None:
        """Return when the next attempt may go."""
        async with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            if len(self._passed) == self._passed.maxlen:
                slot = max(slot, self._passed[0] + 1.0)
            if slot > now:
                await self._sleep(slot - now)
            self._passed.append(self._clock())
            self._next_slot = slot + self._interval
