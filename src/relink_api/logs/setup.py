"""Process-wide logging for ``relink-api`` commands: one line a record, to stderr, as JSON
or in the readable console format."""

from __future__ import annotations

import logging
import sys
from typing import Literal

from relink_api.logs.console import CONSOLE_FORMAT, SafeFormatter
from relink_api.logs.json_lines import JsonLinesFormatter
from relink_api.logs.redaction import protect_third_party_loggers
from relink_api.logs.request_id import RequestIdFilter

LogFormat = Literal["json", "console"]


def chosen_format(log_format: LogFormat | None, *, sandbox: bool) -> LogFormat:
    """``RELINK_LOG_FORMAT`` when set; else JSON, except for the sandbox, which is a
    developer's terminal."""
    if log_format is not None:
        return log_format
    return "console" if sandbox else "json"


def configure_logging(level: str, log_format: LogFormat = "json") -> None:
    """Every record, ours and the libraries' (uvicorn, the Stripe SDK, asyncpg), through
    one handler on stderr, stamped with the request id; Python's warnings become records
    too, so that nothing else is written between the lines."""
    handler = logging.StreamHandler(sys.stderr)
    # Both formatters mask secrets in the whole record, so the handler needs no filter
    # for them; the request id must be read in the context of the code that logged.
    formatter: logging.Formatter = (
        JsonLinesFormatter() if log_format == "json" else SafeFormatter(CONSOLE_FORMAT)
    )
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    # On the handler too: a logger with a level of its own (``stripe``, capped at WARNING)
    # outranks the root's, and would print under RELINK_LOG_LEVEL.
    handler.setLevel(level)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)
    # pgserver narrates every initdb/pg_ctl call at INFO; its warnings are what matter.
    logging.getLogger("pgserver").setLevel(max(logging.WARNING, root.level))
    # httpx logs one line per request at INFO; the access log already says what matters.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    protect_third_party_loggers()
