"""wrk, run as a separate process, and what its ``--latency`` report says."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).parent / "lua"

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE = re.compile(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_REQUESTS = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)")
_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkFailed(Exception):
    """wrk did not run, or printed no report."""


@dataclass(frozen=True, slots=True)
class Run:
    """One wrk run: throughput, latency percentiles in ms, and what went wrong."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def parse(report: str) -> Run:
    """The figures of a ``wrk --latency`` report."""
    percentiles = {
        int(m.group(1)): float(m.group(2)) * _UNITS_MS[m.group(3)]
        for m in _PERCENTILE.finditer(report)
    }
    requests = _REQUESTS.search(report)
    rate = _RATE.search(report)
    if requests is None or rate is None or set(percentiles) != {50, 99}:
        raise WrkFailed("wrk printed no --latency report:\n" + report)
    non_2xx = _NON_2XX.search(report)
    socket = _SOCKET.search(report)
    return Run(
        rps=float(rate.group(1)),
        p50_ms=percentiles[50],
        p99_ms=percentiles[99],
        requests=int(requests.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
    )


@dataclass(frozen=True, slots=True)
class Load:
    """How wrk loads a server: connections, duration, and optionally a request script."""

    connections: int
    seconds: float
    threads: int = 1
    timeout_s: float = 10.0
    headers: tuple[str, ...] = ()
    script: Path | None = None
    script_args: tuple[str, ...] = ()


def command(url: str, load: Load) -> list[str]:
    """wrk's command line for ``load`` against ``url``."""
    cmd = ["wrk", "--latency", f"-t{load.threads}", f"-c{load.connections}"]
    cmd += [f"-d{load.seconds:g}s", f"--timeout={load.timeout_s:g}s"]
    for header in load.headers:
        cmd += ["-H", header]
    if load.script is not None:
        cmd += ["-s", str(load.script)]
    cmd.append(url)
    if load.script_args:
        cmd += ["--", *load.script_args]
    return cmd


def run(url: str, load: Load) -> Run:
    """Run wrk against ``url`` and read its report."""
    done = subprocess.run(
        command(url, load), capture_output=True, text=True, timeout=load.seconds + 120
    )
    if done.returncode != 0:
        raise WrkFailed(f"wrk exited with {done.returncode}: {done.stderr.strip()}")
    return parse(done.stdout)
