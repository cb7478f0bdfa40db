"""``PROMETHEUS_MULTIPROC_DIR``: where processes on one host share their values. Checked
before anything records a metric: prometheus_client reads the variable at import time and
would fail at the first value it writes."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The directory processes share their values through, if one is set."""
    return os.environ.get(MULTIPROC_ENV) or None


def multiprocess_dir_problem() -> str | None:
    """Why the directory cannot be used, in one sentence; ``None`` when it is unset or a
    writable directory."""
    path = multiprocess_dir()
    if path is None:
        return None
    if not Path(path).is_dir() or not os.access(path, os.W_OK | os.X_OK):
        return (
            f"{MULTIPROC_ENV}={path} must be an existing directory this process can write "
            "(create it, empty, before starting the processes that share it)."
        )
    return None


@contextmanager
def shared_multiprocess_dir() -> Iterator[str]:
    """The directory several processes of one ``serve`` share their values through: the
    operator's, or else a private one made empty for them and removed afterwards (so that
    ``/metrics`` on any of them sums them all)."""
    path = multiprocess_dir()
    if path is not None:
        yield path
        return
    private = tempfile.mkdtemp(prefix="relink-metrics-")
    try:
        yield private
    finally:
        shutil.rmtree(private, ignore_errors=True)
