"""A sandbox-mode relink-api on a real port, in a thread of its own, for schemathesis.

schemathesis calls the server synchronously (``requests``) from the test's thread, so the
server cannot share the test's event loop as ``tests.sandbox_server`` does elsewhere: it
runs ``running_sandbox`` in its own loop on its own thread, for the whole module.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from relink_api.sandbox.setup import sandbox_admin_key
from tests.conftest import TEMPLATE
from tests.sandbox_server import running_sandbox
from tests.support import scratch_database

READY_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class ContractServer:
    base_url: str
    customer_id: str
    token: str
    admin_key: str
    accounts: dict[str, str]


class _ServerThread(threading.Thread):
    def __init__(self, admin_dsn: str, data_dir: Path) -> None:
        super().__init__(name="contract-sandbox", daemon=True)
        self._admin_dsn = admin_dsn
        self._data_dir = data_dir
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self.server: ContractServer | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self.error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        async with (
            scratch_database(self._admin_dsn, prefix="contract", template=TEMPLATE) as dsn,
            running_sandbox(dsn, self._data_dir) as sandbox,
        ):
            demo = await sandbox.client.post("/sandbox/control/demo-customers")
            demo.raise_for_status()
            # The demo accounts reach the app by webhook.
            flushed = await sandbox.client.post("/sandbox/control/outbox/flush")
            flushed.raise_for_status()
            admin_key = sandbox_admin_key(sandbox.settings)
            assert admin_key is not None
            body = demo.json()
            self.server = ContractServer(
                base_url=sandbox.base_url,
                customer_id=body["customer_id"],
                token=body["token"],
                admin_key=admin_key,
                accounts=body["accounts"],
            )
            self._ready.set()
            await self._stop_event.wait()

    def wait_ready(self) -> ContractServer:
        if not self._ready.wait(READY_TIMEOUT_SECONDS):
            raise TimeoutError("the contract sandbox did not start in time")
        if self.error is not None:
            raise RuntimeError("the contract sandbox failed to start") from self.error
        assert self.server is not None
        return self.server

    def stop(self) -> None:
        if self._loop is not None and self._stop_event is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop_event.set)
        self.join(timeout=60)
        if self.is_alive():
            raise RuntimeError("the contract sandbox did not stop")


@pytest.fixture(scope="module")
def contract_server(
    pg_admin_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ContractServer]:
    """The app in sandbox mode with one demo customer, its token and the admin key."""
    thread = _ServerThread(pg_admin_dsn, tmp_path_factory.mktemp("contract") / "data")
    thread.start()
    try:
        yield thread.wait_ready()
    finally:
        thread.stop()
    if thread.error is not None:
        raise thread.error
