"""Security headers on every response, whichever route (or static file) made it."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relink_api.edge.http_only import HTTPOnlyMiddleware

HSTS = "max-age=31536000; includeSubDomains"
_API_MEDIA_TYPES = frozenset({"application/json", "application/problem+json"})


class SecurityHeadersMiddleware(HTTPOnlyMiddleware):
    """Adds what a response lacks; a header a route set itself is never replaced.

    - every response: ``X-Content-Type-Options: nosniff``;
    - HTML: ``html_headers`` (the page's CSP with ``frame-ancestors``, Referrer-Policy…),
      so a page served under a second URL (``/static/index.html``) is as protected as ``/``,
      while a route with a stricter CSP of its own keeps it;
    - JSON and problem+json: ``Cache-Control: no-store`` (bodies name a customer's accounts);
    - over https (directly, or behind a trusted proxy that says so): HSTS.
    """

    def __init__(self, app: ASGIApp, *, html_headers: Mapping[str, str]) -> None:
        super().__init__(app)
        self.html_headers = dict(html_headers)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        # uvicorn's proxy-header handling has set the scheme a trusted proxy reported.
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if media_type == "text/html":
                    for name, value in self.html_headers.items():
                        headers.setdefault(name, value)
                elif media_type in _API_MEDIA_TYPES:
                    headers.setdefault("Cache-Control", "no-store")
                if https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
