"""A port of its own for a process with no HTTP server (``relink-api worker``): the
families it records, in the Prometheus text format, on a daemon thread."""

from __future__ import annotations

from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from relink_api.metrics.process import recorded


@dataclass(frozen=True, slots=True)
class MetricsServer:
    """A running metrics listener: where it listens, and how to stop it."""

    host: str
    port: int
    _server: WSGIServer

    def stop(self) -> None:
        """Stop listening and close the socket."""
        self._server.shutdown()
        self._server.server_close()


def serve_metrics(host: str, port: int) -> MetricsServer:
    """Answer scrapes at ``http://host:port/`` (any path) until stopped; ``port`` 0 picks a
    free one. With ``PROMETHEUS_MULTIPROC_DIR`` set it shows every process's families, as
    ``/metrics`` does, but never the gauges computed from the database. ``OSError`` when
    the port cannot be listened on."""
    server, _thread = start_http_server(port, addr=host, registry=recorded())
    return MetricsServer(host=host, port=server.server_port, _server=server)
