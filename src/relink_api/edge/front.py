"""The outermost layer of the edge: what every request gets, in one pass over its answer.

It times the request (``relink_http_request_duration_seconds``), gives it its request id
(``X-Request-Id``, and the id of every line logged while it is served), writes its access
line, and adds the security headers its answer lacks. One layer rather than one each: a
layer wraps ``send`` again and runs again for every message of every answer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relink_api.edge.headers import SecurityHeaders
from relink_api.edge.http_only import HTTPOnlyMiddleware
from relink_api.edge.request_context import log_access, request_id_of
from relink_api.logs.request_id import enter_request, leave_request
from relink_api.metrics.http import RequestMetrics

_REQUEST_ID_HEADER = b"x-request-id"


class FrontMiddleware(HTTPOnlyMiddleware):
    """Outermost, so that answers the edge gives itself (413 from the body limit, the 500
    for an unexpected error, CORS preflights) are timed, logged and protected with the
    rest; the router notes the route in the scope it shares."""

    def __init__(self, app: ASGIApp, *, html_headers: Mapping[str, str]) -> None:
        super().__init__(app)
        self.headers = SecurityHeaders(html_headers)
        self.metrics = RequestMetrics()

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = request_id_of(scope)
        raw_id = request_id.encode("latin-1")
        scope.setdefault("state", {})["request_id"] = request_id
        # uvicorn's proxy-header handling has set the scheme a trusted proxy reported.
        https = scope.get("scheme") == "https"
        status = 500  # an exception that escapes before any answer: the server's 500

        async def send_answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                self.headers.add_to(message, https=https)
                # Ours replaces any the route set.
                message["headers"] = [
                    header
                    for header in message["headers"]
                    if header[0].lower() != _REQUEST_ID_HEADER
                ]
                message["headers"].append((_REQUEST_ID_HEADER, raw_id))
            await send(message)

        token = enter_request(request_id)
        try:
            await self.app(scope, receive, send_answer)
        finally:
            seconds = time.perf_counter() - started
            log_access(scope, status, seconds)
            leave_request(token)
            self.metrics.observe(scope, status, seconds)
