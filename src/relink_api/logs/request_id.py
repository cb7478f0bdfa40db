"""The id of the request being served, for every line logged while it is.

A context variable: each request runs in a task of its own, with a copy of the context,
so concurrent requests never see each other's id; a task started during a request (or a
thread started by ``asyncio.to_thread``) inherits it, and the server's background loops,
started by the lifespan before any request, have none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

_REQUEST_ID: ContextVar[str | None] = ContextVar("relink_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request this code runs for, or ``None`` outside any request."""
    return _REQUEST_ID.get()


def enter_request(request_id: str) -> Token[str | None]:
    """``request_id_scope`` without a generator, for the edge: lines logged from now on
    carry ``request_id`` until ``leave_request`` is given the token."""
    return _REQUEST_ID.set(request_id)


def leave_request(token: Token[str | None]) -> None:
    """Restore the id ``enter_request`` replaced."""
    _REQUEST_ID.reset(token)


@contextmanager
def request_id_scope(request_id: str) -> Iterator[None]:
    """Lines logged inside the block carry ``request_id``; the previous value (normally
    none) is restored after it."""
    token = enter_request(request_id)
    try:
        yield
    finally:
        leave_request(token)


class RequestIdFilter(logging.Filter):
    """Stamps each record with ``request_id`` (``None`` outside a request) as it is handled,
    in the context of the code that logged it. A record that names one already keeps it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _REQUEST_ID.get()
        return True
