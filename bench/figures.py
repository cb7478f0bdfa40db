"""The figures of issue 18, each in alternating rounds against its baseline (A B, B A, …)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace

from bench import wrk
from bench.payloads import signed_events, write_lines
from bench.processes import PeakRss, Service
from bench.results import Comparison, Measure
from bench.rig import SECRET_KEY, WEBHOOK_SECRET, Rig, Seeded

REPLAY = wrk.LUA / "replay.lua"
HOOK_CUSTOMER = "cus_benchhooks"
# A first round's guess of the webhook rate (well above what one process reaches), so
# that its file of unique events is not outrun.
FIRST_GUESS_RPS = 5000.0


@dataclass(frozen=True, slots=True)
class Options:
    seconds: float
    rounds: int
    connections: int
    create_connections: int
    latency_ms: float
    threads: int = 1
    warmup_seconds: float = 1.0

    def load(self, connections: int | None = None) -> wrk.Load:
        """wrk's plain load at ``connections`` (the figure's default when ``None``)."""
        return wrk.Load(connections or self.connections, self.seconds, threads=self.threads)


def in_turn(round_: int, names: list[str]) -> list[str]:
    """The order of a round: as given in even rounds, reversed in odd ones."""
    return names if round_ % 2 == 0 else names[::-1]


def events_needed(seconds: float, observed_rps: list[float]) -> int:
    """Events for one round: twice the fastest rate seen so far (a first guess before any),
    so that every event of the round is sent once."""
    rate = 2 * max(observed_rps) if observed_rps else FIRST_GUESS_RPS
    return int(rate * seconds) + 1000


Target = Callable[[float], wrk.Run]
"""One side of a comparison: a wrk run of the given length."""


def alternate(targets: dict[str, Target], options: Options) -> dict[str, list[wrk.Run]]:
    """Each target warmed up once (unmeasured: connection pools, caches), then
    ``options.rounds`` rounds, the order reversed every other round."""
    for target in targets.values():
        target(options.warmup_seconds)
    runs: dict[str, list[wrk.Run]] = {name: [] for name in targets}
    for round_ in range(options.rounds):
        for name in in_turn(round_, list(targets)):
            runs[name].append(targets[name](options.seconds))
    return runs


def _against(url: str, load: wrk.Load, *, drained: Service | None = None) -> Target:
    """wrk against ``url``; then, for a ``drained`` server, a wait until it answers again:
    requests wrk gave up on at the end of a run may still queue in its backlog (the peer's
    one sync worker takes seconds to work through them), and must not slow the next run."""

    def target(seconds: float) -> wrk.Run:
        run = wrk.run(url, replace(load, seconds=seconds))
        if drained is not None:
            drained.wait_ready("/", deadline_s=600)
        return run

    return target


def webhooks(
    rig: Rig, server: Service, bare: Service, floor: Service | None, options: Options
) -> tuple[list[Comparison], Measure]:
    """Figure 1 (signed webhook ingest, unique events), the same load on its ``floor`` (a
    naive handler: signature check and one durable insert) when given, and figure 6's peak
    RSS under figure 1."""
    figure = Comparison(
        "1. signed webhook ingest, durable, unique events", "bare", "≥ 0.35x, p99 < 50 ms"
    )
    floored = Comparison(
        "1. the same, a naive handler (HMAC + one durable insert)", "bare", "— (the floor)"
    )
    rss = Measure("6. peak RSS under figure 1", "MB", "< 200 MB", reduce="max")
    peak = PeakRss(server.process.pid)
    events = rig.work / "events.lines"
    load = replace(options.load(), script=REPLAY, script_args=(str(events), "Stripe-Signature"))

    def ingest(target: Service, comparison: Comparison, sampled: bool) -> Target:
        observed: list[float] = []

        def run_once(seconds: float) -> wrk.Run:
            # A file of fresh events per run: each is sent once, well within the tolerance.
            count = events_needed(seconds, observed)
            write_lines(events, signed_events(count, secret=WEBHOOK_SECRET, customer=HOOK_CUSTOMER))
            url = target.base + "/v1/webhooks/stripe"
            with peak.sampling() if sampled else contextlib.nullcontext():
                run = wrk.run(url, replace(load, seconds=seconds))
            observed.append(run.rps)
            comparison.repeats += max(0, run.requests - count)
            if sampled:
                rss.values.append(peak.peak_bytes / 2**20)
            return run

        return run_once

    targets = {
        "bare": _against(bare.base + "/", options.load()),
        "ours": ingest(server, figure, sampled=True),
    }
    if floor is not None:
        targets["floor"] = ingest(floor, floored, sampled=False)
    runs = alternate(targets, options)
    figure.baseline_runs = floored.baseline_runs = runs["bare"]
    figure.subject_runs = runs["ours"]
    events.unlink(missing_ok=True)
    if floor is None:
        return [figure], rss
    floored.subject_runs = runs["floor"]
    return [figure, floored], rss


def account_list(
    server: Service, bare: Service, floor: Service | None, seeded: Seeded, options: Options
) -> list[Comparison]:
    """Figure 2: ``GET /v1/accounts`` of one customer with 40 accounts, one page; and the
    same request on its ``floor`` (a naive handler: the JWT and one SELECT) when given."""
    figure = Comparison("2. GET /v1/accounts (40 accounts)", "bare", "≥ 0.5x, p99 < 50 ms")
    floored = Comparison("2. the same, a naive handler (JWT + one SELECT)", "bare", "— (the floor)")
    auth = replace(options.load(), headers=(f"Authorization: Bearer {seeded.list_token}",))
    targets = {
        "bare": _against(bare.base + "/", options.load()),
        "ours": _against(server.base + "/v1/accounts?limit=100", auth),
    }
    if floor is not None:
        targets["floor"] = _against(floor.base + "/v1/accounts?limit=100", auth)
    runs = alternate(targets, options)
    figure.baseline_runs = floored.baseline_runs = runs["bare"]
    figure.subject_runs = runs["ours"]
    if floor is None:
        return [figure]
    floored.subject_runs = runs["floor"]
    return [figure, floored]


def relink_create(
    rig: Rig, server: Service, peer: Service | None, seeded: Seeded, options: Options
) -> list[Comparison]:
    """Figure 3: ``POST /v1/relink-sessions`` at ``create_connections`` against the stand-in
    (its own latency measured directly as the baseline), and the same load on the peer."""
    latency = options.latency_ms
    connections = options.create_connections
    added = Comparison(
        f"3. POST /v1/relink-sessions, {connections} concurrent, stand-in at {latency:g} ms",
        "stand-in",
        "p50 ≤ +20 ms, p99 ≤ +80 ms",
        latency_ms=latency,
    )
    versus_peer = Comparison(
        "3. the same, against Stripe's guide (Flask + sync SDK, gunicorn defaults)",
        "peer",
        "≥ 5x the peer's throughput",
    )
    # Long timeouts: the peer's one worker makes 100 connections wait seconds each.
    base = replace(options.load(connections), timeout_s=30)
    replay = replace(base, script=REPLAY, script_args=(str(seeded.create_lines), "Authorization"))
    direct = rig.standin.base + "/v1/financial_connections/sessions/fcsess_bench"
    targets = {
        "stand-in": _against(
            direct, replace(base, headers=(f"Authorization: Bearer {SECRET_KEY}",))
        ),
        "ours": _against(server.base + "/v1/relink-sessions", replay, drained=server),
    }
    if peer is not None:
        targets["peer"] = _against(peer.base + "/v1/relink-sessions", replay, drained=peer)
    runs = alternate(targets, options)
    added.baseline_runs = runs["stand-in"]
    added.subject_runs = versus_peer.subject_runs = runs["ours"]
    if peer is None:
        return [added]
    versus_peer.baseline_runs = runs["peer"]
    return [added, versus_peer]


def startup(rig: Rig, options: Options) -> Measure:
    """Figure 6: ``relink-api serve`` to ``/readyz`` with an existing data folder (its
    embedded PostgreSQL stopped, as after a restart)."""
    measure = Measure("6. start-up to /readyz, existing data folder", "s", "< 3 s")
    data = rig.work / "startup-data"
    shutil.rmtree(data, ignore_errors=True)
    first = rig.start_server(data, name="relink-api-startup")
    try:
        first.wait_ready("/readyz")
    finally:
        first.stop()
    for _ in range(options.rounds):
        server = rig.start_server(data, name="relink-api-startup")
        try:
            measure.values.append(server.wait_ready("/readyz"))
        finally:
            server.stop()
    return measure
