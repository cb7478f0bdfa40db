"""Security headers on every response, whichever route (or static file) made it."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relink_api.edge.http_only import HTTPOnlyMiddleware

HSTS = "max-age=31536000; includeSubDomains"
_API_MEDIA_TYPES = frozenset({b"application/json", b"application/problem+json"})
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")
_HSTS = (b"strict-transport-security", HSTS.encode("latin-1"))


class SecurityHeaders:
    """Adds what a response lacks; a header a route set itself is never replaced.

    - every response: ``X-Content-Type-Options: nosniff``;
    - HTML: ``html_headers`` (the page's CSP with ``frame-ancestors``, Referrer-Policy…),
      so a page served under a second URL (``/static/index.html``) is as protected as ``/``,
      while a route with a stricter CSP of its own keeps it;
    - JSON and problem+json: ``Cache-Control: no-store`` (bodies name a customer's accounts);
    - over https (directly, or behind a trusted proxy that says so): HSTS.
    """

    def __init__(self, html_headers: Mapping[str, str]) -> None:
        # Encoded once, as the raw ASGI headers they are compared with and added to.
        self._html = tuple(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in html_headers.items()
        )

    def add_to(self, message: Message, *, https: bool) -> None:
        """Add the headers an ``http.response.start`` message lacks (to a copy of its list:
        the list may be the response object's own)."""
        headers: list[tuple[bytes, bytes]] = list(message.get("headers", ()))
        present = set()
        media_type = b""
        for name, value in headers:
            name = name.lower()
            present.add(name)
            if name == b"content-type":
                media_type = value.partition(b";")[0].strip().lower()
        wanted = [_NOSNIFF]
        if media_type == b"text/html":
            wanted += self._html
        elif media_type in _API_MEDIA_TYPES:
            wanted.append(_NO_STORE)
        if https:
            wanted.append(_HSTS)
        for header in wanted:
            if header[0] not in present:
                present.add(header[0])
                headers.append(header)
        message["headers"] = headers


class SecurityHeadersMiddleware(HTTPOnlyMiddleware):
    """``SecurityHeaders`` as a middleware of its own (the service's edge applies them in
    ``edge.front``)."""

    def __init__(self, app: ASGIApp, *, html_headers: Mapping[str, str]) -> None:
        super().__init__(app)
        self.headers = SecurityHeaders(html_headers)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        # uvicorn's proxy-header handling has set the scheme a trusted proxy reported.
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.headers.add_to(message, https=https)
            await send(message)

        await self.app(scope, receive, send_with_headers)
