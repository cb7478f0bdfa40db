"""When a failed delivery is tried again: exponential backoff with full jitter, a pure
function of the attempt number and a random source the caller injects."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

BASE = timedelta(seconds=30)
CAP = timedelta(hours=6)
# Full jitter can draw (almost) zero; a receiver that just failed gets at least this long.
FLOOR = timedelta(seconds=1)


def ceiling(attempt: int) -> timedelta:
    """The longest wait after failed attempt number ``attempt`` (1-based): 30 s, doubling
    each time, at most 6 hours."""
    if attempt < 1:
        raise ValueError("attempts are numbered from 1")
    # Past 2**10 the cap has long been reached; stop before the number grows.
    return min(CAP, BASE * (1 << min(attempt - 1, 10)))


def delay(attempt: int, random: Callable[[], float]) -> timedelta:
    """The wait after failed attempt ``attempt``: uniform between nothing and its ceiling
    (full jitter, so receivers that failed together are not retried together), at least
    ``FLOOR``. ``random`` returns a float in [0, 1)."""
    return max(FLOOR, ceiling(attempt) * random())
