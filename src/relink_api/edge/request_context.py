"""Request ids, on every line a request causes, and one access-log line per request
(pure ASGI, no body buffering)."""

from __future__ import annotations

import logging
import re
import secrets
import time

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from relink_api.edge.http_only import HTTPOnlyMiddleware
from relink_api.logs import request_id_scope

logger = logging.getLogger("relink_api.access")

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware(HTTPOnlyMiddleware):
    """Adds ``X-Request-Id`` (kept from the caller when well-formed), sets it as the id of
    every line logged while the request is served, and logs the request.

    Only the method, path, status and duration are logged: never headers or bodies, which
    carry bearer tokens and client secrets.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = (
            incoming if incoming and _INCOMING_ID.match(incoming) else "req_" + secrets.token_hex(8)
        )
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_code = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        with request_id_scope(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                duration_ms = round((time.perf_counter() - started) * 1000, 1)
                logger.info(
                    "%s %s %s %.1fms",
                    scope["method"],
                    scope["path"],
                    status_code,
                    duration_ms,
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status_code,
                        "duration_ms": duration_ms,
                    },
                )
