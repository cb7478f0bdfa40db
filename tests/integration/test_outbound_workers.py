"""Two `relink-api worker` processes against one PostgreSQL deliver a batch of events to a
verifying receiver: each event exactly once, both processes taking part, and each process
stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from relink_api.auth import Operator
from relink_api.db import Database
from relink_api.outbound import endpoints, outbox
from relink_api.outbound.event_types import OutboundEventType
from relink_api.outbound.schemas import WebhookEndpointCreate
from tests.conftest import make_settings
from tests.outbound_receiver import OutboundReceiver
from tests.processes import RELINK_API, wait_for

EVENTS = 50


def _start_worker(database_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "RELINK_OUTBOUND_ALLOW_PRIVATE_ADDRESSES": "true",
        "RELINK_OUTBOUND_POLL_SECONDS": "0.1",
        "RELINK_LOG_LEVEL": "INFO",
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(RELINK_API), "worker", "--deliveries", "2"], env=env, stderr=out, stdout=out
        )


async def test_two_worker_processes_deliver_each_event_once(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, outbound_allow_private_addresses=True)
    db = await Database.connect(database_url, settings)
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    # The receiver answers one request at a time, slowly: batches overlap across workers.
    with OutboundReceiver(delay_seconds=0.03) as receiver:
        created = await endpoints.create(
            db, settings, WebhookEndpointCreate(url=receiver.url), operator=Operator("t")
        )
        receiver.secrets = [created.value.secret]
        workers = [_start_worker(database_url, log) for log in logs]
        try:

            async def both_running() -> bool:
                return all("loop(s) running" in log.read_text() for log in logs)

            await wait_for(both_running, "both workers to start")
            event_ids = []
            async with db.transaction() as conn:
                for number in range(EVENTS):
                    event_ids.append(
                        await outbox.emit(
                            conn,
                            OutboundEventType.account_recovered,
                            {"number": number},
                            at=datetime.now(UTC),
                        )
                    )

            async def all_delivered() -> bool:
                return len(await outbox.delivered_at(db, event_ids)) == EVENTS

            await wait_for(all_delivered, "every event to be delivered")
        finally:
            for process in workers:
                process.send_signal(signal.SIGTERM)
            codes = [process.wait(timeout=30) for process in workers]
        async with db.connection() as conn:
            attempts = await conn.fetchval("SELECT count(*) FROM outbound_attempts")
        await db.close()
        delivered = receiver.delivered_ids()
    assert codes == [0, 0], [log.read_text()[-2000:] for log in logs]
    assert sorted(delivered) == sorted(event_ids)
    assert Counter(delivered).most_common(1)[0][1] == 1  # no event twice
    assert attempts == EVENTS
    per_process = [log.read_text().count("outbound delivery dlv_") for log in logs]
    assert sum(per_process) == EVENTS
    assert all(per_process), per_process  # both processes took part
    assert all("relink-api worker stopped" in log.read_text() for log in logs)
