"""What the processes recorded: this one's families, or, when several processes share
``PROMETHEUS_MULTIPROC_DIR``, all of theirs summed; and a process's goodbye to that directory.

prometheus_client decides at import time whether values live in memory or in that
directory's files, so the variable must be set before the process starts (docs/metrics.md).
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from relink_api.metrics.directory import multiprocess_dir
from relink_api.metrics.families import REGISTRY


def recorded() -> Collector:
    """The counters, histograms and pool gauges: this process's, or every process's that
    shares the multiprocess directory, merged on a fresh registry (MultiProcessCollector
    reads the files; this process's own values are among them)."""
    path = multiprocess_dir()
    if path is None:
        return REGISTRY
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return registry


def forget_this_process() -> None:
    """Remove this process's live gauges (the pool's) from the multiprocess directory, so
    that a process that has ended stops adding its connections to the sum. Its counters
    and histograms stay: they are history, and the sums must not go backwards."""
    path = multiprocess_dir()
    if path is not None:
        forget_process(os.getpid(), path)


def forget_process(pid: int, path: str) -> None:
    """Remove process ``pid``'s live gauges from the multiprocess directory ``path``: what
    a supervisor does for a worker that died without its goodbye (killed by a signal)."""
    if Path(path).is_dir():
        mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


_forgets_at_exit = False


def forget_at_exit() -> None:
    """Have this process forget its live gauges when it exits normally (once registered,
    whoever calls). `serve` also forgets them at the end of its lifespan: uvicorn ends by
    re-raising SIGTERM, which skips atexit."""
    global _forgets_at_exit
    if not _forgets_at_exit:
        atexit.register(forget_this_process)
        _forgets_at_exit = True
