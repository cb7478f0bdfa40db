"""One worker of ``relink-api serve --workers N``, started by the parent as
``python -m relink_api.serving.worker_process <fd> <index> <parent pid>``: the app on the
listening socket the parent bound and passed down as ``fd``.

Its settings come from the environment it inherits, which the parent checked before
starting it. Worker 0 runs the background loops; the others only answer requests.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time

from relink_api.settings import Settings

# By name: run as a script, this module is `__main__`.
logger = logging.getLogger("relink_api.serving.worker_process")

PARENT_CHECK_SECONDS = 1.0
# uvicorn's exit status for an app whose start-up failed.
STARTUP_FAILED = 3


def main(argv: list[str]) -> int:
    """Serve until SIGTERM/SIGINT (or the parent's death); the exit status."""
    fd, index, parent = (int(arg) for arg in argv)
    _stop_with_parent(parent)
    settings = Settings()

    from relink_api.app import create_app
    from relink_api.logs import chosen_format, configure_logging
    from relink_api.server import serve

    configure_logging(
        settings.log_level, chosen_format(settings.log_format, sandbox=settings.sandbox)
    )
    sock = socket.socket(fileno=fd)
    app = create_app(settings, background_loops=index == 0)
    logger.info(
        "relink-api worker %d (pid %d) serving%s",
        index,
        os.getpid(),
        ", with the background loops" if index == 0 else "",
    )
    try:
        started = serve(app, settings, sock)
    except KeyboardInterrupt:
        # uvicorn re-raises the SIGINT it stopped on (Ctrl-C reaches the whole group).
        return 0
    return 0 if started else STARTUP_FAILED


def _stop_with_parent(parent: int) -> None:
    """Stop gracefully when the parent is gone (killed with SIGKILL, say), so that no
    worker is left serving the port with nobody to supervise it."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
