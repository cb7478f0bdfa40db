"""The 500 for an exception no handler took, answered inside the rest of the edge."""

from __future__ import annotations

import logging

from starlette.types import Message, Receive, Scope, Send

from relink_api.edge.http_only import HTTPOnlyMiddleware
from relink_api.errors import ProblemError
from relink_api.web.problems import problem_response

logger = logging.getLogger("relink_api.web.problems")


class UnexpectedErrorMiddleware(HTTPOnlyMiddleware):
    """Answers an unhandled exception with the ``internal-error`` problem, here.

    Starlette's outermost error middleware would send the same 500 and then re-raise, so
    uvicorn closes the keep-alive connection (a request already sent on it is never
    answered) and the answer misses the request id and security headers added outside
    this layer. Innermost, the exception ends here and the connection stays usable.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            if started:
                raise  # part of an answer is out: only closing the connection can end it
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            response = problem_response(
                status=500,
                slug=ProblemError.slug,
                title=ProblemError.title,
                detail="The server failed to handle this request; it has been logged.",
                instance=scope["path"],
            )
            await response(scope, receive, send)
