"""``python -m bench``: run the figures, write bench/results/<date>.json and .md (``<date>-2``
and on for a later run the same day), print the table. See bench/README.md."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import figures, growth, reconcile, workers
from bench.processes import Service
from bench.results import Comparison, Measure, results_stem, table
from bench.rig import RATE_LIMITS, ROOT, Rig, new_jwt_secret, seed, start_standin

FIGURES = ("webhooks", "list", "create", "startup", "workers", "reconcile", "growth")
# Figure 5 takes seven minutes at 10 k accounts, and growth bulk-loads a million accounts:
# each runs only when named (--only reconcile, --only growth).
DEFAULT_FIGURES = FIGURES[:5]
NOTE = (
    "Measured on a shared machine (other work running beside it): only the ratios against "
    "the baseline of the same run are meaningful, not the absolute rates."
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="Length of one wrk run.")
    parser.add_argument("--rounds", type=int, default=3, help="Rounds of each figure.")
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_FIGURES),
        help=f"Comma-separated figures to run, of {', '.join(FIGURES)}.",
    )
    parser.add_argument("--connections", type=int, default=32, help="wrk connections.")
    parser.add_argument("--create-connections", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=200.0, help="The stand-in's.")
    parser.add_argument("--reconcile-accounts", type=int, default=10_000, help="Figure 5's.")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    args.only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = args.only - set(FIGURES)
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(sorted(unknown))}; choose of {FIGURES}")
    return args


def _git_commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip()


async def _database(data: Path, name: str | None = None) -> str:
    from relink_api.db.embedded import start_embedded_postgres

    if name is None:
        return await start_embedded_postgres(data)
    return await start_embedded_postgres(data, database=name)


def _stop_all(services: list[Service]) -> None:
    for service in reversed(services):
        service.stop()


def measure(args: argparse.Namespace) -> tuple[list[Comparison], list[Measure]]:
    """Start everything, run the chosen figures, stop everything."""
    from relink_api.db.embedded import stop_embedded_postgres

    options = figures.Options(
        args.seconds, args.rounds, args.connections, args.create_connections, args.latency_ms
    )
    work = ROOT / "bench" / ".work"
    shutil.rmtree(work, ignore_errors=True)
    (work / "logs").mkdir(parents=True)
    comparisons: list[Comparison] = []
    measures: list[Measure] = []
    data = work / "data"
    # The harness holds the embedded PostgreSQL (relink-api joins it, as a second process on
    # the same data folder does) so that it can bulk-load into it.
    dsn = asyncio.run(_database(data))
    with ExitStack() as stack:
        stack.callback(stop_embedded_postgres, data)
        services: list[Service] = []
        stack.callback(_stop_all, services)
        standin = start_standin(work / "logs", args.latency_ms)
        services.append(standin)
        rig = Rig(work, new_jwt_secret(), standin)
        bare = rig.start_bare()
        server = rig.start_server(data)
        services += [bare, server]
        for service, path in ((standin, "/"), (bare, "/"), (server, "/readyz")):
            service.wait_ready(path)
        seeded = asyncio.run(seed(dsn, rig, customers=args.create_connections))
        floor = None
        if args.only & {"webhooks", "list"}:
            # The floors' events go into a database of their own on the same server.
            floor = rig.start_floor(asyncio.run(_database(data, "bench_floor")), dsn)
            services.append(floor)
            floor.wait_ready("/")
        if "webhooks" in args.only:
            hooks, rss = figures.webhooks(rig, server, bare, floor, options)
            comparisons += hooks
            measures.append(rss)
        if "list" in args.only:
            comparisons += figures.account_list(server, bare, floor, seeded, options)
        if "create" in args.only:
            peer = rig.start_peer(seeded.peer_accounts)
            if peer is None:
                print("peer skipped: scripts/bench installs it (bench/.peer-venv)", file=sys.stderr)
            else:
                services.append(peer)
                peer.wait_ready("/")
            comparisons += figures.relink_create(rig, server, peer, seeded, options)
        if "startup" in args.only:
            measures.append(figures.startup(rig, options))
        if "workers" in args.only:
            scaled, usage = workers.workers(rig, server, bare, data, options)
            comparisons += scaled
            measures += usage
        if "reconcile" in args.only:
            measures += reconcile.figure(rig, dsn, data, args.reconcile_accounts, args.latency_ms)
        # Last: it leaves a million accounts in the data folder.
        if "growth" in args.only:
            grown, loads = growth.measure(dsn, rig, data, bare, seeded, options)
            comparisons += grown
            measures += loads
    return comparisons, measures


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("python -m bench needs wrk on PATH (apt-get install wrk, or run scripts/bench).")
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    began = time.monotonic()
    comparisons, measures = measure(args)
    markdown = table(comparisons, measures)
    document: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "wall_seconds": round(time.monotonic() - began, 1),
        "commit": _git_commit(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "options": {k: sorted(v) if isinstance(v, set) else v for k, v in vars(args).items()}
        | {"out": str(args.out)},
        "rate_limits_raised": RATE_LIMITS,
        "note": NOTE,
        "comparisons": [c.summary() for c in comparisons],
        "measures": [m.summary() for m in measures],
        "table": markdown,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = results_stem(args.out, started)
    stem.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown + "\n\n" + NOTE + "\n")
    print(markdown)
    print(f"\n{NOTE}\nwritten: {stem}.json, {stem}.md")


if __name__ == "__main__":
    main()
