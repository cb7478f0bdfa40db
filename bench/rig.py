"""What a run stands on: relink-api as ``relink-api serve`` runs it (JSON logs at INFO,
metrics on, the embedded PostgreSQL), the bare baseline, the Stripe stand-in, the peer,
and the accounts bulk-loaded for the figures."""

from __future__ import annotations

import json
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.accounts import bulk_load, fc_account
from bench.payloads import bearer_token, write_lines
from bench.processes import Service, free_port, start

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PEER_VENV = ROOT / "bench" / ".peer-venv"
STRIPE_API_VERSION = "2026-09-30.preview"
WEBHOOK_SECRET = "whsec_bench"
SECRET_KEY = "sk_test_bench"
LIST_CUSTOMER = "cus_benchlist"
LIST_ACCOUNTS = 40

# Raised for the benchmark so that relink-api's rate limits are not what figure 3 measures:
# the per-customer limit (to its largest allowed value), and the service-wide Stripe budget
# to 1,000 attempts a second, as for an account whose Stripe limit was raised (twice what
# 100 connections at 200 ms can ask for).
RATE_LIMITS = {
    "RELINK_RATE_LIMIT_CUSTOMER_PER_MINUTE": "6000",
    "RELINK_RATE_LIMIT_CUSTOMER_BURST": "1000",
    "RELINK_STRIPE_REQUESTS_PER_SECOND": "1000",
    "RELINK_STRIPE_REQUESTS_BURST": "100",
    "RELINK_STRIPE_BUDGET_WAIT_SECONDS": "10",
}


def clean_environment() -> dict[str, str]:
    """This process's environment without relink-api's own settings, so that nothing the
    caller has set changes what is measured."""
    ours = ("RELINK_", "STRIPE_", "DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")
    return {k: v for k, v in os.environ.items() if not k.startswith(ours)}


@dataclass(slots=True)
class Rig:
    """The processes of a run and what the loads need from them."""

    work: Path
    jwt_secret: str
    standin: Service

    @property
    def logs(self) -> Path:
        return self.work / "logs"

    def server_env(self, data_dir: Path, port: int) -> dict[str, str]:
        """relink-api's environment: keys of the stand-in's world, JSON logs at INFO."""
        return {
            **clean_environment(),
            "STRIPE_SECRET_KEY": SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": "pk_test_bench",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "RELINK_STRIPE_API_BASE": self.standin.base,
            "RELINK_AUTH_JWT_SECRET": self.jwt_secret,
            "RELINK_DATA_DIR": str(data_dir),
            "RELINK_HOST": "127.0.0.1",
            "RELINK_PORT": str(port),
            "RELINK_LOG_LEVEL": "INFO",
            "RELINK_LOG_FORMAT": "json",
            **RATE_LIMITS,
        }

    def start_server(self, data_dir: Path, name: str = "relink-api") -> Service:
        port = free_port()
        env = self.server_env(data_dir, port)
        return start(name, [str(BIN / "relink-api"), "serve"], port=port, logs=self.logs, env=env)

    def start_bare(self) -> Service:
        port = free_port()
        argv = [str(BIN / "uvicorn"), "bench.bare:app", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--log-level", "warning", "--no-access-log"]
        return start("bare", argv, port=port, logs=self.logs, cwd=ROOT, env=clean_environment())

    def start_floor(self, dsn: str, accounts_dsn: str) -> Service:
        """The floors of figures 1 and 2 (bench/peers/floor.py), served as the bare app is:
        events go to ``dsn``, a database of their own; accounts are read from
        relink-api's (``accounts_dsn``)."""
        port = free_port()
        argv = [str(BIN / "uvicorn"), "bench.peers.floor:app", "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
        env = {
            **clean_environment(),
            "FLOOR_DSN": dsn,
            "FLOOR_ACCOUNTS_DSN": accounts_dsn,
            "FLOOR_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "FLOOR_JWT_SECRET": self.jwt_secret,
        }
        return start("floor", argv, port=port, logs=self.logs, cwd=ROOT, env=env)

    def start_peer(self, accounts: Path) -> Service | None:
        """The Flask peer under gunicorn (default workers); ``None`` when scripts/bench has
        not made its virtual environment."""
        gunicorn = PEER_VENV / "bin" / "gunicorn"
        if not gunicorn.exists():
            return None
        port = free_port()
        argv = [str(gunicorn), "--chdir", str(ROOT), "--bind", f"127.0.0.1:{port}"]
        env = {
            **clean_environment(),
            "STRIPE_SECRET_KEY": SECRET_KEY,
            "STRIPE_API_BASE": self.standin.base,
            "STRIPE_API_VERSION": STRIPE_API_VERSION,
            "PEER_ACCOUNTS": str(accounts),
        }
        return start(
            "peer", [*argv, "bench.peers.stripe_guide:app"], port=port, logs=self.logs, env=env
        )


def start_standin(logs: Path, latency_ms: float) -> Service:
    port = free_port()
    argv = [sys.executable, "-m", "bench.standin", "--port", str(port)]
    argv += ["--latency-ms", f"{latency_ms:g}"]
    return start("stripe-standin", argv, port=port, logs=logs, cwd=ROOT, env=clean_environment())


def new_jwt_secret() -> str:
    return secrets.token_hex(32)


@dataclass(frozen=True, slots=True)
class Seeded:
    """What the loads send: the list's bearer token, the relink callers' file (one broken
    account per customer) and the peer's lookup of those accounts."""

    list_token: str
    create_lines: Path
    peer_accounts: Path


async def seed(dsn: str, rig: Rig, *, customers: int) -> Seeded:
    """Bulk-load the list's 40 healthy accounts of one customer, and one account needing a
    relink for each of ``customers`` customers."""
    listed = [
        fc_account(f"fca_list{n:04d}", customer=LIST_CUSTOMER, authorization=f"fcauth_list{n % 4}")
        for n in range(LIST_ACCOUNTS)
    ]
    broken = [
        fc_account(
            f"fca_create{n:04d}",
            customer=f"cus_create{n:04d}",
            authorization=f"fcauth_create{n:04d}",
            status="inactive",
            action="relink_required",
            cause="access_expired",
        )
        for n in range(customers)
    ]
    await bulk_load(dsn, listed + broken)
    create_lines = rig.work / "create.lines"
    write_lines(
        create_lines,
        (
            (
                "Bearer " + bearer_token(a["account_holder"]["customer"], rig.jwt_secret),
                json.dumps({"account_id": a["id"]}).encode(),
            )
            for a in broken
        ),
    )
    peer_accounts = rig.work / "peer-accounts.json"
    peer_accounts.write_text(
        json.dumps({a["id"]: [a["account_holder"]["customer"], a["authorization"]] for a in broken})
    )
    return Seeded(bearer_token(LIST_CUSTOMER, rig.jwt_secret), create_lines, peer_accounts)
