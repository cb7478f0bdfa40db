"""Request ids, on every line a request causes, and one access-log line per request."""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from starlette.types import Scope

logger = logging.getLogger("relink_api.access")

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id_of(scope: Scope) -> str:
    """The caller's ``X-Request-Id`` when well-formed, else a new ``req_…`` id."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            incoming: str = value.decode("latin-1")
            if _INCOMING_ID.match(incoming):
                return incoming
            break
    return "req_" + secrets.token_hex(8)


# Where a route leaves what its request's access line adds: (text, fields).
_NOTE = "access_note"


def note_on_access_line(scope: Scope, text: str, **fields: Any) -> None:
    """Say ``text`` (after ``: ``) and ``fields`` on the request's access line: one line
    for what a route would otherwise log on a line of its own (a webhook's event)."""
    scope.setdefault("state", {})[_NOTE] = (text, fields)


def log_access(scope: Scope, status: int, seconds: float) -> None:
    """The request's line: only the method, path, status and duration, never headers or
    bodies, which carry bearer tokens and client secrets; and what its route noted."""
    if not logger.isEnabledFor(logging.INFO):
        return
    duration_ms = round(seconds * 1000, 1)
    method, path = scope["method"], scope["path"]
    extra = {"method": method, "path": path, "status": status, "duration_ms": duration_ms}
    note = scope.get("state", {}).get(_NOTE)
    if note is None:
        logger.info("%s %s %s %.1fms", method, path, status, duration_ms, extra=extra)
        return
    text, fields = note
    extra.update(fields)
    logger.info("%s %s %s %.1fms: %s", method, path, status, duration_ms, text, extra=extra)
