"""A host application's webhook endpoint for tests and demos: a small HTTP server on
127.0.0.1 (in a thread of its own, so it answers whatever the caller's event loop is doing)
that verifies EVERY delivery with the ``standardwebhooks`` library and records it.

    with OutboundReceiver() as receiver:          # receiver.url: http://127.0.0.1:PORT/hook
        receiver.secrets = [created["secret"]]    # once the endpoint is registered
        receiver.fail_first = 2                   # answer 500 to the first 2 requests
        ...
        receiver.delivered_ids()                  # event ids of verified, accepted deliveries

A delivery no secret verifies is answered 400 and recorded with ``verified=False``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

START_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Receipt:
    """One request the receiver got, and what it answered."""

    headers: dict[str, str]
    body: str
    verified: bool
    answered: int
    payload: dict[str, Any] | None

    @property
    def event_id(self) -> str:
        return self.headers.get("webhook-id", "")

    def verifies_with(self, secret: str) -> bool:
        """Whether ``secret`` alone verifies this delivery (its timestamp checked now)."""
        try:
            Webhook(secret).verify(self.body, self.headers)
        except WebhookVerificationError:
            return False
        return True


@dataclass
class OutboundReceiver:
    """The receiver; use it as a context manager (``with``) to run it."""

    secrets: list[str] = field(default_factory=list)
    fail_first: int = 0
    path: str = "/hook"
    delay_seconds: float = 0.0
    # Served over TLS with this certificate and key (files), named ``host`` in its URL.
    tls: tuple[str, str] | None = None
    host: str = "127.0.0.1"
    receipts: list[Receipt] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _port: int = 0

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self._port}{self.path}"

    def delivered_ids(self) -> list[str]:
        """Event ids of the deliveries accepted (verified, answered 2xx), in arrival order."""
        with self._lock:
            return [r.event_id for r in self.receipts if r.verified and r.answered < 300]

    def accepted(self) -> list[Receipt]:
        with self._lock:
            return [r for r in self.receipts if r.verified and r.answered < 300]

    async def _receive(self, request: Request) -> Response:
        body = (await request.body()).decode()
        headers = {key.lower(): value for key, value in request.headers.items()}
        payload: dict[str, Any] | None = None
        for secret in list(self.secrets):
            try:
                payload = Webhook(secret).verify(body, headers)
                break
            except WebhookVerificationError:
                continue
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        with self._lock:
            failing = sum(1 for r in self.receipts if r.answered == 500) < self.fail_first
            answered = 400 if payload is None else 500 if failing else 204
            self.receipts.append(Receipt(headers, body, payload is not None, answered, payload))
        return Response(status_code=answered)

    def __enter__(self) -> OutboundReceiver:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        app = Starlette(routes=[Route(self.path, self._receive, methods=["POST"])])
        certfile, keyfile = self.tls or (None, None)
        config = uvicorn.Config(
            app,
            log_config=None,
            lifespan="off",
            access_log=False,
            ssl_certfile=certfile,
            ssl_keyfile=keyfile,
        )
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="outbound-receiver", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the outbound receiver did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=10)
