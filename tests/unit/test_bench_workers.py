"""Figure 7's pure parts (bench/workers.py): CPU time spent between two readings, the
machine's busy share, the per-round scaling factor and the busiest worker's share."""

from __future__ import annotations

import math

from bench import wrk
from bench.workers import busiest_share, busy_fraction, per_round, spent


def _run(rps: float) -> wrk.Run:
    return wrk.Run(rps=rps, p50_ms=1.0, p99_ms=2.0, requests=int(rps), non_2xx=0, socket_errors=0)


def test_cpu_spent_counts_a_process_that_started_in_between_whole() -> None:
    assert spent({1: 2.0, 2: 5.0}, {1: 3.5, 2: 5.0, 3: 0.25}) == {1: 1.5, 2: 0.0, 3: 0.25}


def test_the_machine_is_as_busy_as_it_was_not_idle() -> None:
    # (idle, total) CPU seconds: 1 s idle of 4 s on every core in between.
    assert busy_fraction((10.0, 20.0), (11.0, 24.0)) == 0.75
    assert math.isnan(busy_fraction((10.0, 20.0), (10.0, 20.0)))


def test_scaling_is_taken_round_by_round() -> None:
    assert per_round([_run(300), _run(500)], [_run(200), _run(250)]) == [1.5, 2.0]


def test_the_busiest_workers_share_is_a_percentage_of_the_workers_cpu() -> None:
    assert busiest_share([3.0, 1.0]) == 75.0
    assert busiest_share([2.0]) == 100.0
    assert math.isnan(busiest_share([0.0, 0.0]))
