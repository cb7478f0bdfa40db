"""Keeps the embedded PostgreSQL running: a server that dies is started again, with backoff.

Only for the embedded server (no ``DATABASE_URL``): a managed PostgreSQL has its own
supervisor. The pool needs no help; it replaces dead connections on the next acquire.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from relink_api.db.embedded import (
    EmbeddedPostgresNotRestarted,
    PostmasterState,
    postmaster_state,
    restart_embedded_postgres,
)

logger = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 1.0
FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 30.0


class EmbeddedPostgresSupervisor:
    """Watches the embedded server's postmaster and restarts it when it is gone.

    ``healthy`` turns false once the server has been down for ``unhealthy_after`` seconds
    despite the restarts, so that ``/healthz`` can ask an orchestrator for a new process.
    """

    def __init__(self, data_dir: Path, *, unhealthy_after: float) -> None:
        self._data_dir = data_dir
        self._unhealthy_after = unhealthy_after
        self._down_since: float | None = None

    @property
    def down_for(self) -> float:
        """Seconds the server has been down (0 while it runs)."""
        return 0.0 if self._down_since is None else time.monotonic() - self._down_since

    @property
    def healthy(self) -> bool:
        return self.down_for < self._unhealthy_after

    async def run(self) -> None:
        """Watch until cancelled."""
        retry_in = FIRST_RETRY_SECONDS
        while True:
            # pgserver and the process table are blocking calls: keep them off the loop.
            state = await asyncio.to_thread(postmaster_state, self._data_dir)
            if state is PostmasterState.running:
                self._recovered("found running again")
                retry_in = FIRST_RETRY_SECONDS
                await asyncio.sleep(CHECK_EVERY_SECONDS)
                continue
            if self._down_since is None:
                self._down_since = time.monotonic()
                logger.warning(
                    "embedded PostgreSQL in %s is not running; restarting it", self._data_dir
                )
            try:
                started = await asyncio.to_thread(restart_embedded_postgres, self._data_dir)
            except EmbeddedPostgresNotRestarted as exc:
                was_healthy = self.healthy
                logger.warning(
                    "embedded PostgreSQL not restarted (%s); next try in %.1f s", exc, retry_in
                )
                await asyncio.sleep(retry_in)
                retry_in = min(retry_in * 2, MAX_RETRY_SECONDS)
                if was_healthy and not self.healthy:
                    logger.error(
                        "embedded PostgreSQL down for %.0f s: /healthz answers 503 until it "
                        "is back",
                        self.down_for,
                    )
                continue
            # Another process sharing the data folder may have restarted it first.
            self._recovered("restarted" if started else "restarted by another process")
            retry_in = FIRST_RETRY_SECONDS

    def _recovered(self, how: str) -> None:
        if self._down_since is not None:
            logger.warning("embedded PostgreSQL %s after %.1f s", how, self.down_for)
            self._down_since = None
