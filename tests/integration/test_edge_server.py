"""``relink-api serve`` as users run it (a subprocess, test-mode keys, PostgreSQL at
DATABASE_URL), attacked over loopback: a 50 MB body and a 50 MB header are refused with
413 and 431 while the server's memory stays bounded and /healthz keeps answering; the access
log cannot be forged; a trusted proxy's https turns HSTS on."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import processes
from tests.conftest import JWT_SECRET, TEMPLATE
from tests.support import scratch_database

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60
MIB = 1024 * 1024
ATTACK_BYTES = 50 * MIB
# The bound for the whole server process, start-up included (about 90 MB of it).
PEAK_RSS_LIMIT_BYTES = 150 * 1000 * 1000
# Generous for two shared cores; before the fix /healthz stalled for seconds.
HEALTHZ_LIMIT_SECONDS = 2.0


@dataclass(frozen=True)
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def peak_rss_bytes(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"^VmHWM:\s+(\d+) kB$", status, re.M)
        assert match is not None, status
        return int(match.group(1)) * 1024

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _server_env(database_url: str, port: int) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("STRIPE_", "RELINK_")) and name != "DATABASE_URL"
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "STRIPE_SECRET_KEY": "sk_test_edge123",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_edge123",
            "RELINK_AUTH_JWT_SECRET": JWT_SECRET,
            # Nothing here calls Stripe; should anything try, it reaches no one.
            "RELINK_STRIPE_API_BASE": "http://127.0.0.1:9",
            "RELINK_PORT": str(port),
            "RELINK_FORWARDED_ALLOW_IPS": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@pytest.fixture(scope="module")
async def database_for_server(pg_admin_dsn: str) -> AsyncIterator[str]:
    async with scratch_database(pg_admin_dsn, prefix="edge", template=TEMPLATE) as dsn:
        yield dsn


@pytest.fixture(scope="module")
def served(database_for_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    port = processes.free_port()
    log = tmp_path_factory.mktemp("edge-server") / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "relink_api", "serve", "--port", str(port)],
            cwd=ROOT,
            env=_server_env(database_for_server, port),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Served(process=process, port=port, log=log)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, server.log_text()
            try:
                if httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "not ready in time:\n" + server.log_text()
            time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _read_response(sock: socket.socket) -> bytes:
    """The whole response on a connection the server closes (or ends with its body)."""
    sock.settimeout(30)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length: (\d+)\r?$", head)
        if sep and length and len(body) >= int(length.group(1)):
            break
    return data


def _send_declared_body(port: int) -> bytes:
    """POST 50 MB with Content-Length declared, streamed 1 MiB at a time, no token."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /v1/relink-sessions HTTP/1.1\r\nHost: relink\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % ATTACK_BYTES
        )
        chunk = b'{"pad":"' + b"x" * (MIB - 8)
        for _ in range(ATTACK_BYTES // MIB):
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break  # refused and closed: the answer is already on its way
        return _read_response(sock)


def _send_streamed_body(base_url: str) -> httpx.Response:
    """POST 50 MB chunked (no Content-Length to go by), no token."""

    def chunks() -> Iterator[bytes]:
        for _ in range(ATTACK_BYTES // MIB):
            yield b"x" * MIB

    with httpx.Client(base_url=base_url, timeout=60) as client:
        return client.post(
            "/v1/relink-sessions",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )


def _send_huge_header(port: int) -> bytes:
    """GET /healthz with a 50 MB header value, streamed 1 MiB at a time."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: relink\r\nX-Padding: ")
        try:
            for _ in range(ATTACK_BYTES // MIB):
                sock.sendall(b"a" * MIB)
            sock.sendall(b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        return _read_response(sock)


async def _probe_healthz(base_url: str, stop: asyncio.Event) -> list[float]:
    """Time /healthz, over and over, until ``stop``."""
    timings: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        while not stop.is_set():
            started = time.monotonic()
            response = await client.get("/healthz")
            timings.append(time.monotonic() - started)
            assert response.status_code == 200, response.text
            await asyncio.sleep(0.05)
    return timings


def _status_and_body(raw: bytes) -> tuple[int, bytes, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", head)
    assert match is not None, raw[:500]
    return int(match.group(1)), head, body


async def test_50_mb_bodies_and_headers_are_refused_in_bounded_memory(served: Served) -> None:
    stop = asyncio.Event()
    probe = asyncio.create_task(_probe_healthz(served.base_url, stop))
    try:
        declared, streamed, header = await asyncio.gather(
            asyncio.to_thread(_send_declared_body, served.port),
            asyncio.to_thread(_send_streamed_body, served.base_url),
            asyncio.to_thread(_send_huge_header, served.port),
        )
    finally:
        stop.set()
        timings = await probe

    status, head, body = _status_and_body(declared)
    assert status == 413, declared[:500]
    assert b"content-type: application/problem+json" in head.lower()
    assert b'"type":"/problems/payload-too-large"' in body
    assert streamed.status_code == 413, streamed.text
    assert streamed.json()["type"] == "/problems/payload-too-large"
    status, head, body = _status_and_body(header)
    assert status == 431, header[:500]
    assert b"content-type: application/problem+json" in head.lower()
    assert b"/problems/request-header-fields-too-large" in body

    assert timings, "no /healthz answer during the attack"
    assert max(timings) < HEALTHZ_LIMIT_SECONDS, timings
    peak = served.peak_rss_bytes()
    assert peak < PEAK_RSS_LIMIT_BYTES, f"peak RSS {peak / 1e6:.0f} MB"
    # Still serving, on fresh connections.
    async with httpx.AsyncClient(base_url=served.base_url, timeout=5) as client:
        assert (await client.get("/healthz")).status_code == 200


def test_a_header_within_the_limit_is_served(served: Served) -> None:
    # A large JWT or a few cookies: well inside the 32 KiB default.
    response = httpx.get(
        f"{served.base_url}/healthz", headers={"X-Padding": "a" * 16 * 1024}, timeout=5
    )
    assert response.status_code == 200, response.text


def test_a_forged_access_log_line_is_escaped_onto_one_line(served: Served) -> None:
    forged = "2026-11-30 00:00:00,000 WARNING relink_api.access: forged"
    target = "/nothing%0a" + forged.replace(" ", "%20") + "%1b[2J%0d"
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: relink\r\n\r\n".encode())
        status, _, _ = _status_and_body(_read_response(sock))
    assert status == 404

    deadline = time.monotonic() + 10
    while "forged" not in served.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = served.log_text().splitlines()
    mentions = [line for line in lines if "forged" in line]
    assert len(mentions) == 1, mentions
    (line,) = mentions
    # The production format: JSON lines, whose encoding escapes every control character.
    record = json.loads(line)
    assert record["logger"] == "relink_api.access"
    assert record["path"] == f"/nothing\n{forged}\x1b[2J\r"
    assert record["message"].startswith(f"GET /nothing\n{forged}\x1b[2J\r 404 ")
    assert not any(line.startswith("2026-11-30 00:00:00,000") for line in lines)
    assert "\x1b" not in served.log_text()


def test_hsts_only_when_a_trusted_proxy_says_https(served: Served) -> None:
    # The test server trusts 127.0.0.1 (RELINK_FORWARDED_ALLOW_IPS), where this client is.
    https = httpx.get(
        f"{served.base_url}/v1/config", headers={"X-Forwarded-Proto": "https"}, timeout=5
    )
    assert https.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    plain = httpx.get(f"{served.base_url}/v1/config", timeout=5)
    assert "strict-transport-security" not in plain.headers


def test_a_request_that_is_not_http_is_a_400_problem(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.sendall(b"NOT AN HTTP REQUEST\r\n\r\n")
        status, head, body = _status_and_body(_read_response(sock))

    assert status == 400
    assert b"content-type: application/problem+json" in head.lower()
    assert b'"type":"/problems/bad-request"' in body


def test_each_request_on_a_connection_has_its_own_head_limit(served: Served) -> None:
    # The head is counted as it arrives: an end of head split across reads still ends it,
    # a 1 MiB body after a small head is not counted as head, and the next request on the
    # same connection starts a count of its own.
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in (b"GET /healthz HTTP/1.1\r\nHost: relink\r", b"\n\r", b"\n"):
            sock.sendall(piece)
            time.sleep(0.05)
        status, _, _ = _status_and_body(_read_response(sock))
        assert status == 200

        body = b"x" * MIB
        sock.sendall(
            b"POST /v1/webhooks/stripe HTTP/1.1\r\nHost: relink\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        )
        status, _, _ = _status_and_body(_read_response(sock))
        # The route answers (its own refusal): the body was neither a head nor too large.
        assert status not in (413, 431)

        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: relink\r\nX-Padding: " + b"a" * 40 * 1024)
        status, _, body = _status_and_body(_read_response(sock))
    assert status == 431
    assert b"/problems/request-header-fields-too-large" in body
