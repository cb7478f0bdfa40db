"""A sync run's pace (gateway/pace.py) on a fake clock whose sleeps wake late, as an event
loop under load wakes them: the rate is kept on average, and no one-second window holds
more attempts than the rate."""

from __future__ import annotations

import itertools

from relink_api.gateway.pace import Pace


class LateClock:
    """Time that moves only when slept on, each sleep ending ``late`` seconds late."""

    def __init__(self, late: float) -> None:
        self.now = 1000.0
        self.late = late

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + self.late


async def passes(rate: float, count: int, *, late: float) -> list[float]:
    clock = LateClock(late)
    pace = Pace(rate, clock=clock, sleep=clock.sleep)
    passed = []
    for _ in range(count):
        await pace.wait()
        passed.append(clock.now)
    return passed


def busiest_second(passed: list[float]) -> int:
    return max(sum(1 for t in passed if start <= t < start + 1) for start in passed)


async def test_late_wake_ups_do_not_slow_the_pace() -> None:
    # 4 ms late on every sleep: spacing each attempt from the last wake-up would make 500
    # attempts at 25 a second take 22 s instead of 20.
    passed = await passes(25, 500, late=0.004)

    assert passed[-1] - passed[0] < 20.5
    assert busiest_second(passed) <= 25


async def test_no_second_holds_more_than_the_rate() -> None:
    for rate, late in ((5, 0.0), (5, 0.03), (25, 0.039), (10.5, 0.01), (0.5, 0.2)):
        passed = await passes(rate, 60, late=late)

        assert busiest_second(passed) <= max(1, int(rate)), (rate, late)
        gaps = [b - a for a, b in itertools.pairwise(passed)]
        # Spaced out, never bunched: no two closer than the pace less the lateness.
        assert min(gaps) >= 1 / rate - late - 1e-9, (rate, late)
