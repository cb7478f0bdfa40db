"""A scaled-out deployment on one machine, as real OS processes on one PostgreSQL:

- a Stripe stand-in: ``relink-api serve --sandbox`` on a database of its own, so its tables
  never mix with the servers'; its Stripe API is ``<base>/sandbox/stripe``;
- two ``relink-api serve`` replicas (not sandboxes) on the shared database, pointed at the
  stand-in as they would be at Stripe, with their own delivery loops off;
- one ``relink-api worker`` on the shared database, delivering outbound events;
- a verifying receiver (``tests.outbound_receiver``) for the host application's endpoint.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from relink_api.auth import admin_key_digest, generate_admin_key
from relink_api.sandbox.setup import sandbox_settings
from relink_api.settings import DEFAULT_STRIPE_API_VERSION, Settings
from tests import processes
from tests.conftest import JWT_SECRET, TEMPLATE, WEBHOOK_SECRET
from tests.outbound_receiver import OutboundReceiver
from tests.support import scratch_database

# The customer rate limit the replicas share: a burst of 5, then one request every 10 s.
CUSTOMER_BURST = 5
CUSTOMER_PER_MINUTE = 6
START_SECONDS = 60


@dataclass
class Cluster:
    """The running processes, and clients for what the tests talk to."""

    servers: list[httpx.AsyncClient]
    stand_in: httpx.AsyncClient
    stripe: httpx.AsyncClient
    database_url: str
    stand_in_database_url: str
    admin_key: str
    receiver: OutboundReceiver
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    async def fetch(self, query: str, *args: Any, stand_in: bool = False) -> list[asyncpg.Record]:
        """Rows from the shared database (or the stand-in's)."""
        conn = await asyncpg.connect(self.stand_in_database_url if stand_in else self.database_url)
        try:
            rows: list[asyncpg.Record] = await conn.fetch(query, *args)
            return rows
        finally:
            await conn.close()

    def alive(self) -> None:
        """Every process is still running (a crash would otherwise show up as a timeout)."""
        exited = {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}
        assert not exited, exited


def _stand_in_keys(data_dir: Path, port: int) -> dict[str, str]:
    """The stand-in's keys, made in its data folder as ``serve --sandbox`` makes them (it
    finds and uses them when it starts), so the replicas can be given them up front."""
    served = sandbox_settings(
        Settings(sandbox=True, data_dir=data_dir), host="127.0.0.1", port=port
    )
    assert served.stripe_secret_key is not None
    assert served.stripe_publishable_key is not None
    return {
        "secret_key": served.stripe_secret_key.get_secret_value(),
        "publishable_key": served.stripe_publishable_key,
    }


def _replica_environment(
    database_url: str, stand_in: str, keys: dict[str, str], admin_key: str, data_dir: Path
) -> dict[str, str]:
    return processes.environment(
        DATABASE_URL=database_url,
        RELINK_DATA_DIR=str(data_dir),
        STRIPE_SECRET_KEY=keys["secret_key"],
        STRIPE_PUBLISHABLE_KEY=keys["publishable_key"],
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        RELINK_STRIPE_API_BASE=f"{stand_in}/sandbox/stripe",
        RELINK_AUTH_JWT_SECRET=JWT_SECRET,
        RELINK_ADMIN_API_KEY_SHA256=admin_key_digest(admin_key),
        RELINK_RATE_LIMIT_CUSTOMER_BURST=str(CUSTOMER_BURST),
        RELINK_RATE_LIMIT_CUSTOMER_PER_MINUTE=str(CUSTOMER_PER_MINUTE),
        # The service-wide Stripe budget is not under test here: it must not refuse anything.
        RELINK_STRIPE_REQUESTS_PER_SECOND="100",
        RELINK_STRIPE_REQUESTS_BURST="100",
        # Only the worker process delivers; nothing sends reminders.
        RELINK_OUTBOUND_WORKERS="0",
        RELINK_REMINDER_INTERVAL_SECONDS="0",
        RELINK_OUTBOUND_ALLOW_PRIVATE_ADDRESSES="true",
        RELINK_OUTBOUND_POLL_SECONDS="0.1",
        RELINK_LOG_LEVEL="INFO",
    )


@asynccontextmanager
async def running_cluster(pg_admin_dsn: str, folder: Path) -> AsyncIterator[Cluster]:
    """Start everything, wait until each server answers /readyz, and stop every process
    (its whole process group) when the block ends, however it ends."""
    async with AsyncExitStack() as stack:
        database_url = await stack.enter_async_context(
            scratch_database(pg_admin_dsn, prefix="scale", template=TEMPLATE)
        )
        stand_in_database_url = await stack.enter_async_context(
            scratch_database(pg_admin_dsn, prefix="scale_stripe", template=TEMPLATE)
        )
        receiver = stack.enter_context(OutboundReceiver())
        admin_key = generate_admin_key()
        ports = {name: processes.free_port() for name in ("stand-in", "server-a", "server-b")}
        keys = _stand_in_keys(folder / "stand-in", ports["stand-in"])
        bases = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        commands = {
            "stand-in": (
                ["serve", "--sandbox"],
                processes.environment(
                    DATABASE_URL=stand_in_database_url,
                    RELINK_DATA_DIR=str(folder / "stand-in"),
                    RELINK_PORT=str(ports["stand-in"]),
                ),
            ),
            **{
                name: (
                    ["serve"],
                    {
                        **_replica_environment(
                            database_url, bases["stand-in"], keys, admin_key, folder / name
                        ),
                        "RELINK_PORT": str(ports[name]),
                    },
                )
                for name in ("server-a", "server-b")
            },
            "worker": (
                ["worker", "--deliveries", "2"],
                _replica_environment(
                    database_url, bases["stand-in"], keys, admin_key, folder / "worker"
                ),
            ),
        }
        cluster = Cluster(
            servers=[],
            stand_in=await stack.enter_async_context(
                httpx.AsyncClient(base_url=bases["stand-in"], timeout=30)
            ),
            stripe=await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=f"{bases['stand-in']}/sandbox/stripe",
                    headers={
                        "Authorization": f"Bearer {keys['secret_key']}",
                        "Stripe-Version": DEFAULT_STRIPE_API_VERSION,
                    },
                    timeout=30,
                )
            ),
            database_url=database_url,
            stand_in_database_url=stand_in_database_url,
            admin_key=admin_key,
            receiver=receiver,
        )
        for name in ("server-a", "server-b"):
            cluster.servers.append(
                await stack.enter_async_context(httpx.AsyncClient(base_url=bases[name], timeout=30))
            )
        # Each stop is registered as its process starts: however the block ends, every
        # process is stopped before the clients close and the databases are dropped.
        for name, (args, env) in commands.items():
            log = folder / f"{name}.log"
            cluster.processes[name] = process = processes.start(args, env, log)
            stack.callback(processes.stop, process)
        for name, base in bases.items():  # they start side by side; waited for in turn
            log = folder / f"{name}.log"
            await processes.wait_ready(base, cluster.processes[name], log, seconds=START_SECONDS)
        yield cluster
