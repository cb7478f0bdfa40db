"""`relink-api sync` when its database goes away mid-run (issue 11, item 13): it prints its
summary and one sentence saying why it stopped, exits 1, and shows no traceback.

The database is a PostgreSQL of the test's own, whose postmaster is stopped (SIGQUIT: an
immediate shutdown, as a crash or an operator's `pg_ctl stop -m immediate` would) while the
run reads the second account from Stripe."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
import respx
from click.testing import CliRunner

from relink_api.accounts import state
from relink_api.accounts.models import Source
from relink_api.accounts.state import Observation, Read, read_time
from relink_api.cli.main import main
from relink_api.db.migrate import apply_migrations
from relink_api.gateway.objects import FcAccount
from tests.conftest import JWT_SECRET
from tests.factories import API, fc_account

ACCOUNTS = "/v1/financial_connections/accounts"
STOP_TIMEOUT_SECONDS = 20.0

# Holds an embedded PostgreSQL of its own until told to let go (a line on stdin).
HOLDER = """
import sys
from pathlib import Path
from pgserver.postgres_server import get_server

server = get_server(Path(sys.argv[1]), cleanup_mode="stop")
print(server.get_uri("postgres"), flush=True)
sys.stdin.readline()
"""


@dataclass(frozen=True, slots=True)
class OwnPostgres:
    dsn: str
    pgdata: Path

    def postmaster_pid(self) -> int:
        return int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])

    def stop_now(self) -> None:
        """Immediate shutdown; returns once the server is gone."""
        os.kill(self.postmaster_pid(), signal.SIGQUIT)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while (self.pgdata / "postmaster.pid").exists():
            if time.monotonic() > deadline:
                raise TimeoutError("PostgreSQL did not stop")
            time.sleep(0.02)


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[OwnPostgres]:
    pgdata = tmp_path / "pg"
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(pgdata)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdin is not None
        assert holder.stdout is not None
        try:
            yield OwnPostgres(dsn=holder.stdout.readline().strip(), pgdata=pgdata)
        finally:
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(timeout=60)


async def prepare(dsn: str, account_ids: list[str]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn)  # type: ignore[arg-type]
        await conn.set_type_codec(
            "jsonb",
            encoder=json.dumps,
            decoder=json.loads,
            schema="pg_catalog",
        )
        for account_id in account_ids:
            raw = fc_account(account_id)
            async with conn.transaction():
                await state.apply(
                    conn,  # type: ignore[arg-type]
                    Observation(
                        FcAccount.model_validate(raw),
                        raw,
                        read_time() - timedelta(hours=1),
                        Read(Source.sync),
                    ),
                )
    finally:
        await conn.close()


@pytest.mark.usefixtures("_restore_logging")
def test_sync_prints_its_summary_not_a_traceback_when_the_database_goes_away(
    own_postgres: OwnPostgres,
) -> None:
    accounts = [f"fca_lost_{index}" for index in range(4)]
    asyncio.run(prepare(own_postgres.dsn, accounts))
    reads: list[str] = []

    def read(request: httpx.Request) -> httpx.Response:
        account_id = request.url.path.rsplit("/", 1)[-1]
        reads.append(account_id)
        if len(reads) == 2:
            own_postgres.stop_now()
        return httpx.Response(200, json=fc_account(account_id, status="inactive"))

    env = {
        "STRIPE_SECRET_KEY": "sk_test_relink123",
        "STRIPE_PUBLISHABLE_KEY": "",
        "STRIPE_WEBHOOK_SECRET": "",
        "DATABASE_URL": own_postgres.dsn,
        "RELINK_AUTH_JWT_SECRET": JWT_SECRET,
        "RELINK_STRIPE_MAX_NETWORK_RETRIES": "0",
        "RELINK_SYNC_CONCURRENCY": "1",
        "RELINK_SYNC_STALE_AFTER_SECONDS": "0",
        "RELINK_SYNC_HEALTHY_STALE_AFTER_SECONDS": "0",
        "RELINK_DB_COMMAND_TIMEOUT_SECONDS": "5",
    }
    with respx.mock(base_url=API, assert_all_mocked=True) as stripe:
        stripe.get(url__regex=rf"{ACCOUNTS}/fca_lost_\d+").mock(side_effect=read)
        result = CliRunner().invoke(main, ["sync"], env=env)

    output = result.output
    assert "Traceback" not in output, output
    assert result.exit_code == 1, (result.exception, output)
    assert isinstance(result.exception, SystemExit), output
    lines = result.stdout.splitlines()
    assert lines[0] == "settled 0 relink sessions, 0 payment setups, failed 0", output
    summary = re.fullmatch(r"checked (\d), changed (\d), failed (\d)", lines[-1])
    assert summary is not None, output
    checked, changed, failed = (int(group) for group in summary.groups())
    # The first account was applied before the database went; the second was read but
    # could not be stored; none after it was sent to Stripe without a database.
    assert changed == 1, output
    assert failed >= 1, output
    assert checked == changed + failed, output
    assert reads[:2] == accounts[:2]
    assert result.stderr.strip().splitlines()[-1] == (
        "sync stopped early: The database cannot be reached; nothing was changed. Retry shortly."
    ), output
