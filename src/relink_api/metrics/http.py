"""``relink_http_request_duration_seconds``: every request timed, by method, the template of
the route that answered it and the status sent."""

from __future__ import annotations

import time

from starlette.routing import Mount
from starlette.types import Message, Receive, Scope, Send

from relink_api.edge.http_only import HTTPOnlyMiddleware
from relink_api.metrics.families import HTTP_REQUEST_SECONDS

UNMATCHED = "unmatched"
# Methods a route may answer; anything else is one label, so no caller adds series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_label(scope: Scope) -> str:
    """The template of the route the router matched (``/v1/accounts/{account_id}``), the
    mount path of mounted static files, or ``unmatched``: never the raw path."""
    route = scope.get("route")
    if isinstance(route, Mount):
        return route.path or "/"
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class HttpMetricsMiddleware(HTTPOnlyMiddleware):
    """Times each request from its arrival to the end of its answer. Outermost, so that
    answers the edge gives itself (413 from the body limit, the 500 for an unexpected
    error) are counted with the rest; the router notes the route in the scope it shares."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500  # an exception that escapes before any answer: the server's 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "other"
            HTTP_REQUEST_SECONDS.labels(method, route_label(scope), str(status)).observe(
                time.perf_counter() - started
            )
