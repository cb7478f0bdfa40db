"""The parent of ``relink-api serve --workers N``: it has bound the port, started the
embedded PostgreSQL (without ``DATABASE_URL``) and applied the migrations; here it starts N
worker processes on that socket, starts again any that dies, and on SIGTERM or SIGINT
stops them all gracefully, then lets go of the embedded PostgreSQL, last.

Workers are fresh interpreters (``relink_api.serving.worker_process``), not forks: a fork
would inherit the parent's handle on the embedded server and its exit handlers.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from relink_api.db.embedded import postmaster_state, stop_embedded_postgres
from relink_api.metrics.directory import MULTIPROC_ENV, shared_multiprocess_dir
from relink_api.metrics.process import forget_process, forget_this_process
from relink_api.settings import Settings

logger = logging.getLogger(__name__)

WORKER_MODULE = "relink_api.serving.worker_process"
# How long the workers have to finish their requests and lifespans before SIGKILL.
STOP_SECONDS = 30.0
# A worker that dies sooner than this after starting is started again with a growing
# delay (1, 2, 4 … 30 s after the first), so that one that cannot start does not spin.
SHORT_LIFE_SECONDS = 10.0
MAX_RESTART_DELAY_SECONDS = 30.0
# How often the parent looks in when nothing wakes it: the embedded server's postmaster,
# when this process is its parent (PID 1 in a container), is reaped here.
IDLE_CHECK_SECONDS = 1.0


@dataclass(slots=True)
class WorkerSlot:
    """Worker ``index``: its current process, and how its recent lives went."""

    index: int
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    short_lives: int = 0
    # When to start its next process (at once, at first); ``None`` while one runs.
    start_at: float | None = 0.0

    def restart_delay(self, now: float) -> float:
        """After this process's death: how long to wait before the next one."""
        if now - self.started_at >= SHORT_LIFE_SECONDS:
            self.short_lives = 0
            return 0.0
        self.short_lives += 1
        if self.short_lives == 1:
            return 0.0
        return min(2.0 ** (self.short_lives - 2), MAX_RESTART_DELAY_SECONDS)


class WorkerSupervisor:
    """Runs ``count`` workers on ``sock`` until SIGTERM or SIGINT."""

    def __init__(self, sock: socket.socket, count: int, *, metrics_dir: str) -> None:
        self._sock = sock
        self._slots = [WorkerSlot(index) for index in range(count)]
        self._metrics_dir = metrics_dir
        self._env = {**os.environ, MULTIPROC_ENV: metrics_dir}
        self._wake = threading.Event()
        self._stopping = False

    def run(self, *, embedded_data_dir: Path | None) -> None:
        """Start the workers and keep them running; return once a signal stopped them."""
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)
        }
        try:
            while not self._stopping:
                self._tend(time.monotonic())
                if embedded_data_dir is not None:
                    postmaster_state(embedded_data_dir)  # reaps it if it is our zombie
                self._wake.wait(self._sleep_for(time.monotonic()))
                self._wake.clear()
            self._stop_all()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, _: FrameType | None) -> None:
        if signum != signal.SIGCHLD and not self._stopping:
            logger.info("relink-api stopping its workers (%s)", signal.Signals(signum).name)
            self._stopping = True
        self._wake.set()

    def _tend(self, now: float) -> None:
        for slot in self._slots:
            process = slot.process
            if process is not None and process.poll() is not None:
                slot.process = None
                forget_process(process.pid, self._metrics_dir)
                delay = slot.restart_delay(now)
                slot.start_at = now + delay
                logger.warning(
                    "relink-api worker %d (pid %d) %s; starting it again%s",
                    slot.index,
                    process.pid,
                    _ended(process.returncode),
                    f" in {delay:.0f} s" if delay else "",
                )
            if slot.process is None and slot.start_at is not None and slot.start_at <= now:
                self._start(slot, now)

    def _start(self, slot: WorkerSlot, now: float) -> None:
        fd = self._sock.fileno()
        argv = [sys.executable, "-m", WORKER_MODULE, str(fd), str(slot.index), str(os.getpid())]
        slot.process = subprocess.Popen(
            argv, env=self._env, pass_fds=(fd,), stdin=subprocess.DEVNULL
        )
        slot.started_at = now
        slot.start_at = None

    def _sleep_for(self, now: float) -> float:
        due = [slot.start_at - now for slot in self._slots if slot.start_at is not None]
        return max(0.0, min([IDLE_CHECK_SECONDS, *due]))

    def _stop_all(self) -> None:
        running = [slot.process for slot in self._slots if slot.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("relink-api worker (pid %d) did not stop; killing it", process.pid)
                process.kill()
                process.wait()
            forget_process(process.pid, self._metrics_dir)


def _ended(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with status {returncode}"


def serve_with_workers(settings: Settings, sock: socket.socket, count: int) -> None:
    """Serve on ``sock`` with ``count`` worker processes until SIGTERM or SIGINT, sharing
    one metrics directory; then stop the embedded PostgreSQL if this process started it."""
    embedded = settings.data_dir if settings.database_url is None else None
    # The start-up check's pool is closed: its gauges must not count in the workers' sums.
    forget_this_process()
    try:
        with shared_multiprocess_dir() as metrics_dir:
            WorkerSupervisor(sock, count, metrics_dir=metrics_dir).run(embedded_data_dir=embedded)
    finally:
        sock.close()
        if embedded is not None:
            stop_embedded_postgres(embedded)
    logger.info("relink-api stopped")
