"""The processes a run starts (relink-api, the bare app, the stand-in, the peer): started
with their output in log files, waited for by polling with a deadline, stopped by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(slots=True)
class Service:
    """A started process and where it answers."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str, *, deadline_s: float = 120.0) -> float:
        """Poll ``path`` until it answers other than 5xx; the seconds since the start."""
        started = time.monotonic()
        while time.monotonic() - started < deadline_s:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited ({self.process.returncode}); see {self.log}"
                )
            with contextlib.suppress(httpx.HTTPError):
                # Any answer but a 5xx: a 404 still says the server is up (the
                # stand-in and the peer have no route to probe), a 503 does not.
                if httpx.get(self.base + path, timeout=2).status_code < 500:
                    return time.monotonic() - started
            time.sleep(0.02)
        raise RuntimeError(
            f"{self.name} did not answer {path} in {deadline_s:.0f} s; see {self.log}"
        )

    def stop(self, *, grace_s: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    logs: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Service:
    """Start ``argv`` with stdout and stderr in ``logs/<name>.log``."""
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
    return Service(name, process, port, log)


class PeakRss:
    """The largest resident set of a process, sampled in a thread while in use."""

    def __init__(self, pid: int, *, every_s: float = 0.05) -> None:
        self._process = psutil.Process(pid)
        self._every = every_s
        self._stop = threading.Event()
        self.peak_bytes = 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)
            self._stop.wait(self._every)

    @contextlib.contextmanager
    def sampling(self) -> Iterator[None]:
        self._stop.clear()
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()
