"""The base of the edge's pure ASGI middleware: it acts on HTTP requests only."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class HTTPOnlyMiddleware:
    """Passes lifespan and websocket messages straight through, and HTTP requests to
    ``handle``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One HTTP request; ``self.app`` answers it unless this middleware does."""
        raise NotImplementedError
