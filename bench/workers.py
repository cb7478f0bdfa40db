"""Figure 7: figure 1's load (signed webhook ingest, unique events) against
``relink-api serve --workers 1`` and ``--workers 2``, beside the bare app, in alternating
rounds; the scaling factor (``--workers 2`` over ``--workers 1``, round by round) and where
the machine's CPU went during each run."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import psutil

from bench import wrk
from bench.figures import HOOK_CUSTOMER, REPLAY, Options, Target, alternate, events_needed
from bench.payloads import signed_events, write_lines
from bench.processes import Service, free_port, start
from bench.results import Comparison, Measure
from bench.rig import BIN, ROOT, WEBHOOK_SECRET, Rig, clean_environment

TARGET = "scales with cores"


def cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    """User plus system CPU seconds of each process still there, by pid."""
    seconds: dict[int, float] = {}
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            seconds[process.pid] = times.user + times.system
    return seconds


def spent(before: dict[int, float], after: dict[int, float]) -> dict[int, float]:
    """CPU seconds each process spent between two readings (all of it for one that
    started in between)."""
    return {pid: total - before.get(pid, 0.0) for pid, total in after.items()}


def machine_times() -> tuple[float, float]:
    """The machine's idle (with I/O wait) and total CPU seconds so far, every core."""
    times = psutil.cpu_times()
    return times.idle + getattr(times, "iowait", 0.0), float(sum(times))


def busy_fraction(before: tuple[float, float], after: tuple[float, float]) -> float:
    """The share of the machine's CPU time that was not idle between two ``machine_times``."""
    idle, total = after[0] - before[0], after[1] - before[1]
    return 1.0 - idle / total if total > 0 else float("nan")


def per_round(numerators: list[wrk.Run], denominators: list[wrk.Run]) -> list[float]:
    """Round by round, one side's throughput over the other's (same round, minutes apart
    at most, so the machine's other load weighs on both alike)."""
    return [a.rps / b.rps for a, b in zip(numerators, denominators, strict=True) if b.rps]


def busiest_share(cpu: list[float]) -> float:
    """The busiest process's share of the CPU time of ``cpu``, in percent."""
    return 100 * max(cpu) / sum(cpu) if sum(cpu) > 0 else float("nan")


def _tree(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    return []


def _postmaster(data: Path) -> int:
    return int((data / "pg" / "postmaster.pid").read_text().split("\n", 1)[0])


@dataclass(slots=True)
class Usage:
    """Where the CPU went during each measured run of one server: cores busy in its
    processes and in PostgreSQL's, the machine's busy share, the busiest worker's share of
    the workers' CPU, and relink-api's CPU time per request. The first run
    (``alternate``'s warm-up) is not kept."""

    server: Service
    postmaster: int
    runs: int = 0
    relink_cores: list[float] = field(default_factory=list)
    postgres_cores: list[float] = field(default_factory=list)
    machine_busy: list[float] = field(default_factory=list)
    busiest_share: list[float] = field(default_factory=list)
    cpu_per_request_us: list[float] = field(default_factory=list)

    def measured(self, load: Callable[[], wrk.Run]) -> wrk.Run:
        """``load()``, with where the CPU went while it ran."""
        relink = cpu_seconds(_tree(self.server.process.pid))
        postgres = cpu_seconds(_tree(self.postmaster))
        machine = machine_times()
        began = time.monotonic()
        run = load()
        wall = time.monotonic() - began
        relink_spent = spent(relink, cpu_seconds(_tree(self.server.process.pid)))
        postgres_spent = spent(postgres, cpu_seconds(_tree(self.postmaster)))
        busy = busy_fraction(machine, machine_times())
        self.runs += 1
        if self.runs == 1:
            return run
        total = sum(relink_spent.values())
        self.relink_cores.append(total / wall)
        self.postgres_cores.append(sum(postgres_spent.values()) / wall)
        self.machine_busy.append(100 * busy)
        self.cpu_per_request_us.append(1e6 * total / run.requests if run.requests else 0.0)
        # With workers the parent only supervises; without, the one process does it all.
        workers = [s for pid, s in relink_spent.items() if pid != self.server.process.pid]
        self.busiest_share.append(busiest_share(workers or list(relink_spent.values())))
        return run

    def measures(self, label: str) -> list[Measure]:
        """The rounds' figures, as rows of the table."""
        return [
            Measure(f"7. {label}: cores busy in relink-api", "cores", "", self.relink_cores),
            Measure(f"7. {label}: cores busy in PostgreSQL", "cores", "", self.postgres_cores),
            Measure(f"7. {label}: machine busy (every core)", "%", "", self.machine_busy),
            Measure(f"7. {label}: busiest worker's share", "%", "", self.busiest_share),
            Measure(f"7. {label}: relink-api CPU per request", "µs", "", self.cpu_per_request_us),
        ]


def _ingest(
    rig: Rig, server: Service, options: Options, usage: Usage, figure: Comparison
) -> Target:
    """Figure 1's load on ``server``: a file of fresh signed events per run."""
    events = rig.work / f"events-{server.name}.lines"
    load = replace(options.load(), script=REPLAY, script_args=(str(events), "Stripe-Signature"))
    observed: list[float] = []

    def target(seconds: float) -> wrk.Run:
        count = events_needed(seconds, observed)
        write_lines(events, signed_events(count, secret=WEBHOOK_SECRET, customer=HOOK_CUSTOMER))
        url = server.base + "/v1/webhooks/stripe"
        run = usage.measured(lambda: wrk.run(url, replace(load, seconds=seconds)))
        observed.append(run.rps)
        figure.repeats += max(0, run.requests - count)
        return run

    return target


def _start_workers(rig: Rig, data: Path, workers: int) -> Service:
    port = free_port()
    env = {**rig.server_env(data, port), "RELINK_WORKERS": str(workers)}
    argv = [str(BIN / "relink-api"), "serve"]
    return start(f"relink-api-workers{workers}", argv, port=port, logs=rig.logs, env=env)


def _start_bare_workers(rig: Rig, workers: int) -> Service:
    """The bare app under uvicorn's own ``--workers``: what two processes gain on this
    machine when the app does nothing, the yardstick for relink-api's scaling."""
    port = free_port()
    argv = [str(BIN / "uvicorn"), "bench.bare:app", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--log-level", "warning", "--no-access-log", "--workers", str(workers)]
    return start(
        f"bare-workers{workers}", argv, port=port, logs=rig.logs, cwd=ROOT, env=clean_environment()
    )


def workers(
    rig: Rig, server: Service, bare: Service, data: Path, options: Options
) -> tuple[list[Comparison], list[Measure]]:
    """Figure 7. ``server`` is the run's ``relink-api serve`` (one process); a second one
    with ``RELINK_WORKERS=2`` joins the same embedded PostgreSQL for the figure, and the
    bare app runs a second time with two workers."""
    scaled = _start_workers(rig, data, 2)
    bare_scaled = _start_bare_workers(rig, 2)
    try:
        scaled.wait_ready("/readyz")
        bare_scaled.wait_ready("/")
        postmaster = _postmaster(data)
        one = Comparison("7. webhook ingest, serve --workers 1", "bare", "")
        two = Comparison("7. webhook ingest, serve --workers 2", "bare", TARGET)
        usage = {1: Usage(server, postmaster), 2: Usage(scaled, postmaster)}

        def on(service: Service) -> Target:
            load = options.load()
            return lambda seconds: wrk.run(service.base + "/", replace(load, seconds=seconds))

        runs = alternate(
            {
                "bare": on(bare),
                "bare2": on(bare_scaled),
                "workers1": _ingest(rig, server, options, usage[1], one),
                "workers2": _ingest(rig, scaled, options, usage[2], two),
            },
            options,
        )
    finally:
        scaled.stop()
        bare_scaled.stop()
    one.baseline_runs = two.baseline_runs = runs["bare"]
    one.subject_runs, two.subject_runs = runs["workers1"], runs["workers2"]
    scaling = Measure(
        "7. scaling: serve --workers 2 over --workers 1, round by round",
        "x",
        f"{TARGET} (2 shared cores, PostgreSQL and wrk on them too)",
        per_round(runs["workers2"], runs["workers1"]),
    )
    yardstick = Measure(
        "7. the same for the bare app (uvicorn --workers 2 over 1): what this machine gives",
        "x",
        "",
        per_round(runs["bare2"], runs["bare"]),
    )
    usages = [*usage[1].measures("--workers 1"), *usage[2].measures("--workers 2")]
    return [one, two], [scaling, yardstick, *usages]
