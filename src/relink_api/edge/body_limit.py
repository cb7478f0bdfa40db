"""One body limit in front of every route: a 413 before any parsing, authentication or
database work, with at most the limit held in memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relink_api.edge.errors import PayloadTooLarge
from relink_api.edge.http_only import HTTPOnlyMiddleware
from relink_api.web.problems import problem_response
from relink_api.web.responses import problem_responses

WEBHOOK_PATH = "/v1/webhooks/stripe"
# Stripe's events are far smaller; Stripe documents no size, so this stays generous.
WEBHOOK_MAX_BODY_BYTES = 1024 * 1024
# The sandbox's Stripe API takes the SDK's form posts, as Stripe does: metadata included
# (Stripe allows 50 keys with 500-character values). Its control routes, bank and hosted
# pages take small JSON and forms, and get the default.
SANDBOX_STRIPE_PREFIX = "/sandbox/stripe"
SANDBOX_STRIPE_MAX_BODY_BYTES = 64 * 1024
# A Content-Length this long is over any limit (and int() refuses past 4300 digits).
_MAX_LENGTH_DIGITS = 18


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """The largest body each path takes: the longest matching prefix's, else ``default``."""

    default: int
    prefixes: tuple[tuple[str, int], ...] = ()

    @classmethod
    def for_service(cls, default: int) -> BodyLimits:
        """JSON routes get ``default`` (RELINK_MAX_BODY_BYTES); the webhook and the
        sandbox's Stripe API their own."""
        return cls(
            default=default,
            prefixes=(
                (WEBHOOK_PATH, WEBHOOK_MAX_BODY_BYTES),
                (SANDBOX_STRIPE_PREFIX, SANDBOX_STRIPE_MAX_BODY_BYTES),
            ),
        )

    def limit_for(self, path: str) -> int:
        matches = [
            (len(prefix), limit)
            for prefix, limit in self.prefixes
            if path == prefix or path.startswith(prefix.rstrip("/") + "/")
        ]
        return max(matches)[1] if matches else self.default


class BodyLimitMiddleware(HTTPOnlyMiddleware):
    """Refuses a request whose body is over its path's limit with a 413 problem.

    A declared ``Content-Length`` over the limit is refused without reading a byte; any
    other body is read here, counting as it arrives, and handed on whole once it has ended
    within the limit, so nothing behind this reads more than the limit.
    """

    def __init__(self, app: ASGIApp, *, limits: BodyLimits) -> None:
        super().__init__(app)
        self.limits = limits

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limits.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left mid-body: there is no one to answer
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(scope, receive, send, limit)
                return
            chunks.append(chunk)
            more_body = message.get("more_body", False)
        await self.app(scope, _replay(b"".join(chunks), receive), send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            # The server refuses a malformed one before the app runs; be safe regardless.
            if not value.isdigit():
                return None
            return int(value) if len(value) <= _MAX_LENGTH_DIGITS else 10**_MAX_LENGTH_DIGITS
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body as one message, then whatever the server says next (a disconnect)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


def _detail(limit: int) -> str:
    return f"Bodies sent to this route are limited to {limit} bytes."


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = problem_response(
        status=PayloadTooLarge.status,
        slug=PayloadTooLarge.slug,
        title=PayloadTooLarge.title,
        detail=_detail(limit),
        instance=scope["path"],
    )
    await response(scope, receive, send)


def document_body_limits(schema: dict[str, Any], limits: BodyLimits) -> None:
    """Add the 413, naming the route's limit, to every operation that takes a body."""
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            example = (PayloadTooLarge.slug, PayloadTooLarge.title, _detail(limits.limit_for(path)))
            entry = problem_responses(413, examples={413: example})[413]
            operation.setdefault("responses", {})["413"] = entry
