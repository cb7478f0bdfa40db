"""The retry schedule: 30 s doubling to a 6 h ceiling, full jitter, at least a second."""

from __future__ import annotations

from datetime import timedelta

import pytest

from relink_api.outbound import backoff


def test_ceilings_double_from_thirty_seconds_to_six_hours() -> None:
    assert [backoff.ceiling(n).total_seconds() for n in range(1, 12)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3840,
        7680,
        15360,
        21600,
    ]
    assert backoff.ceiling(10_000) == timedelta(hours=6)
    with pytest.raises(ValueError, match="numbered from 1"):
        backoff.ceiling(0)


def test_full_jitter_spans_up_to_the_ceiling_with_a_floor() -> None:
    assert backoff.delay(3, lambda: 0.5) == timedelta(seconds=60)
    assert backoff.delay(3, lambda: 0.0) == timedelta(seconds=1)
    assert backoff.delay(40, lambda: 0.999) < timedelta(hours=6)
