"""Figure 5: ``relink-api sync`` re-reading bulk-loaded accounts from a stand-in held to
Stripe's 25 requests a second, against the ideal (the requests it needed / 25).

Every account is loaded as confirmed four days ago (due on any cycle); every tenth holds a
payment method relink-api set up, which a sync re-reads too (one more request). The run
is the command users run, in its own process, with the stand-in's rate as its pace.
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.accounts import bulk_load
from bench.processes import Service, free_port, start
from bench.results import Measure
from bench.rig import BIN, ROOT, Rig, clean_environment
from bench.standin import account_for, payment_method_for

RATE = 25.0
# One account in this many holds a payment method.
PAYMENT_METHOD_EVERY = 10
# The command's own bounds: Stripe's rate, and enough accounts in flight that one is always
# waiting at the pace (25 a second x the stand-in's 200 ms is 5, but each read also waits
# for the database, several times longer on a loaded machine).
SYNC_ENV = {"RELINK_SYNC_REQUESTS_PER_SECOND": f"{RATE:g}", "RELINK_SYNC_CONCURRENCY": "25"}
SUMMARY = re.compile(r"checked (\d+), changed (\d+), failed (\d+)")


@dataclass(frozen=True, slots=True)
class Reconciled:
    """One run: how long it took, and what the stand-in answered and refused."""

    accounts: int
    checked: int
    failed: int
    wall_seconds: float
    # The command's CPU time (user and system), its own process.
    cpu_seconds: float
    answered: dict[str, int]
    rate_limited: int

    @property
    def requests(self) -> int:
        return sum(self.answered.values())

    @property
    def ideal_seconds(self) -> float:
        return self.requests / RATE

    def summary(self) -> dict[str, Any]:
        return {
            "accounts": self.accounts,
            "checked": self.checked,
            "failed": self.failed,
            "wall_seconds": round(self.wall_seconds, 1),
            "cpu_ms_per_account": round(1000 * self.cpu_seconds / max(self.checked, 1), 2),
            "requests": self.requests,
            "answered": self.answered,
            "ideal_seconds": round(self.ideal_seconds, 1),
            "ratio": round(self.wall_seconds / self.ideal_seconds, 3),
            "rate_limited": self.rate_limited,
            "requests_per_account": round(self.requests / max(self.checked, 1), 3),
        }


def account_ids(count: int) -> list[str]:
    return [f"fca_rec{n:06d}" for n in range(count)]


def held_rows(suffix: str) -> dict[str, tuple[Any, ...]]:
    """The finished relink, SetupIntent and payment method behind ``pm_<suffix>``, a row of
    each table (in ``HELD_COLUMNS``' order)."""
    n = suffix
    return {
        "relink_sessions": (f"rls_{n}", f"fcsess_{n}", f"cus_{n}", "account", f"fcauth_{n}",
                            f"fca_{n}", ["payment_method"], "completed", "relinked"),
        "setup_intents": (f"seti_{n}", f"rls_{n}", f"cus_{n}", f"fca_{n}", "succeeded",
                          "succeeded", f"pm_{n}"),
        "payment_methods": (f"pm_{n}", f"cus_{n}", f"fca_{n}", f"seti_{n}", f"rls_{n}",
                            json.dumps(payment_method_for(f"pm_{n}"))),
    }  # fmt: skip


HELD_COLUMNS = {
    "relink_sessions": ("id", "stripe_session_id", "customer_id", "scope", "authorization_id",
                        "account_id", "permissions", "status", "outcome"),
    "setup_intents": ("id", "relink_session_id", "customer_id", "account_id", "status",
                      "stripe_status", "payment_method_id"),
    "payment_methods": ("id", "customer_id", "account_id", "setup_intent_id",
                        "relink_session_id", "snapshot"),
}  # fmt: skip


async def load(dsn: str, count: int) -> None:
    """``count`` accounts confirmed four days ago, every tenth with a payment method (and
    the finished relink and SetupIntent it came from)."""
    ids = account_ids(count)
    await bulk_load(dsn, [account_for(account_id) for account_id in ids])
    held = [held_rows(a.removeprefix("fca_")) for a in ids[::PAYMENT_METHOD_EVERY]]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "UPDATE accounts SET confirmed_at = now() - interval '4 days' WHERE id LIKE 'fca_rec%'"
        )
        for table, columns in HELD_COLUMNS.items():
            await conn.copy_records_to_table(
                table, columns=columns, records=[rows[table] for rows in held]
            )
    finally:
        await conn.close()


def start_limited_standin(logs: Path, latency_ms: float) -> Service:
    port = free_port()
    argv = [sys.executable, "-m", "bench.standin", "--port", str(port)]
    argv += ["--latency-ms", f"{latency_ms:g}", "--rate-limit", f"{RATE:g}"]
    return start(
        "stripe-standin-limited", argv, port=port, logs=logs, cwd=ROOT, env=clean_environment()
    )


def run_sync(rig: Rig, data_dir: Path, standin: Service, count: int) -> Reconciled:
    """``relink-api sync`` against ``standin`` until it exits; its wall time."""
    env = rig.server_env(data_dir, free_port()) | SYNC_ENV
    env["RELINK_STRIPE_API_BASE"] = standin.base
    log = rig.logs / "sync.log"
    began, before = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    with log.open("ab") as stderr:
        done = subprocess.run(
            [str(BIN / "relink-api"), "sync"],
            env={**clean_environment(), **env},
            stdout=subprocess.PIPE,
            stderr=stderr,
            check=False,
        )
    wall = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    output = done.stdout.decode()
    found = SUMMARY.search(output)
    if found is None:
        raise RuntimeError(f"relink-api sync said no summary ({done.returncode}): {output}")
    stats = httpx.get(standin.base + "/_standin/stats", timeout=10).json()
    return Reconciled(
        accounts=count,
        checked=int(found.group(1)),
        failed=int(found.group(3)),
        wall_seconds=wall,
        cpu_seconds=cpu,
        answered=stats["answered"],
        rate_limited=stats["rate_limited"],
    )


def measures(run: Reconciled) -> list[Measure]:
    """The figure's rows: wall time over the ideal, 429s, requests per account."""
    summary = run.summary()
    label = f"5: sync of {run.accounts:,} accounts at {RATE:g}/s"
    return [
        Measure(
            f"{label}, wall / ideal ({summary['ideal_seconds']} s)",
            "x",
            "<= 1.10",
            [summary["ratio"]],
        ),
        Measure(f"{label}, 429s from the stand-in", "", "no storm", [run.rate_limited]),
        Measure(f"{label}, requests per account", "", "-", [summary["requests_per_account"]]),
    ]


def figure(rig: Rig, dsn: str, data_dir: Path, count: int, latency_ms: float) -> list[Measure]:
    """Load ``count`` accounts, sync them against a rate-limited stand-in, report."""
    standin = start_limited_standin(rig.logs, latency_ms)
    try:
        standin.wait_ready("/")
        asyncio.run(load(dsn, count))
        run = run_sync(rig, data_dir, standin, count)
    finally:
        standin.stop()
    print(json.dumps({"reconcile": run.summary()}), file=sys.stderr)
    return measures(run)
