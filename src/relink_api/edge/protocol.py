"""uvicorn's h11 protocol with a bounded request head answered by a 431 problem.

uvicorn's default parser (httptools) keeps a header value of any size in memory until it
ends; h11 stops buffering at ``max_incomplete_event_size`` (uvicorn's
``h11_max_incomplete_event_size``), but uvicorn answers every parse error, that one
included, with a plain-text 400. This subclass answers it as what it is, a 431
problem+json, and other malformed requests with a 400 problem+json, then closes the
connection without resetting it, so that the client reads the answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from http import HTTPStatus
from typing import Any

import h11
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from relink_api.errors import (
    PROBLEM_MEDIA_TYPE,
    PROBLEM_TYPE_BASE,
    BadRequest,
    RequestHeaderFieldsTooLarge,
)

logger = logging.getLogger("relink_api.access")

# How long a refused connection is still read (and discarded) before it is closed. Closing
# a socket with unread data makes the kernel send a reset, which can destroy the answer
# before the client reads it; nginx's lingering close does the same.
LINGER_SECONDS = 5.0


class _Connection(h11.Connection):
    """Remembers why the request could not be parsed (h11's status hint)."""

    refused_with: int | None = None

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.refused_with = exc.error_status_hint
            raise


class BoundedH11Protocol(H11Protocol):
    """Pass as uvicorn's ``http=`` with ``h11_max_incomplete_event_size`` set."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_head_bytes = (
            config.h11_max_incomplete_event_size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
        )
        self.parser = _Connection(h11.SERVER, self.max_head_bytes)
        self.conn = self.parser
        self.lingering = False

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            return  # the answer is sent; the rest of the request is dropped unread
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        if self.parser.refused_with == RequestHeaderFieldsTooLarge.status:
            problem: type[RequestHeaderFieldsTooLarge | BadRequest] = RequestHeaderFieldsTooLarge
            detail = (
                f"The request line and headers are limited to {self.max_head_bytes} bytes together."
            )
            logger.warning(
                "refused a request head over %d bytes from %s (431)",
                self.max_head_bytes,
                self.client[0] if self.client else "?",
            )
        else:
            problem = BadRequest
            detail = "The request is not valid HTTP/1.1."
        body = json.dumps(
            {
                "type": PROBLEM_TYPE_BASE + problem.slug,
                "title": problem.title,
                "status": problem.status,
                "detail": detail,
            },
            separators=(",", ":"),
        ).encode()
        headers = [
            *self.server_state.default_headers,
            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"cache-control", b"no-store"),
            (b"connection", b"close"),
        ]
        reason = HTTPStatus(problem.status).phrase.encode()
        for event in (
            h11.Response(status_code=problem.status, headers=headers, reason=reason),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self._linger()

    def _linger(self) -> None:
        self.lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
