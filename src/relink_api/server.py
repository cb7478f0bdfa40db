"""Running the app under uvicorn: the listening socket, bound before anything is printed,
and the server's configuration (bounded request heads, proxies, no access log of its own)."""

from __future__ import annotations

import errno
import socket

import uvicorn
from fastapi import FastAPI

from relink_api.edge.protocol import bounded_protocol
from relink_api.serving.heap import settle_startup_heap
from relink_api.settings import Settings


class BindError(Exception):
    """The address cannot be listened on; the message is one sentence for a person."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or a ``BindError`` saying why not.

    Bound before the app starts, so that a busy port stops ``serve`` before the sandbox
    prints its banner (a fresh token and admin key) or the database is started.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As uvicorn does: a restart need not wait out TIME_WAIT; a port another process
        # listens on is still refused.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise BindError(_why(exc, host, port)) from None
    except UnicodeError:
        sock.close()
        raise BindError(f"{host!r} is not a host name or address to listen on.") from None
    return sock


def _why(exc: OSError, host: str, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"Port {port} on {host} is already in use; stop what listens there or choose "
            "another port with --port or RELINK_PORT."
        )
    if exc.errno == errno.EACCES:
        return f"Not allowed to listen on port {port} (ports below 1024 need privileges)."
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return f"{host} is not an address of this machine; set --host or RELINK_HOST."
    return f"Cannot listen on {host}:{port}: {exc.strerror or exc}."


def server_config(app: FastAPI, settings: Settings, *, host: str, port: int) -> uvicorn.Config:
    """uvicorn's configuration for ``app``."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=bounded_protocol(settings.max_header_bytes),
        log_config=None,
        access_log=False,  # relink_api.access logs each request, with its request id
        # X-Forwarded-For/-Proto only from the proxies named; none by default.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        server_header=False,
    )


def serve(app: FastAPI, settings: Settings, sock: socket.socket) -> bool:
    """Serve ``app`` on the bound ``sock`` until a signal stops it; ``False`` when the app
    failed to start (its lifespan raised)."""
    host, port = sock.getsockname()[:2]
    config = server_config(app, settings, host=host, port=port)
    server = uvicorn.Server(config)
    settle_startup_heap()
    server.run(sockets=[sock])
    return server.started
