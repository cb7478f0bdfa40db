"""``relink-api serve --sandbox`` with RELINK_LOG_FORMAT=json, as a process of its own:
every line it writes to stderr is a JSON object, and every line a request causes (the
service's, the Stripe call's, the webhook's) carries that request's id."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import processes
from tests.conftest import TEMPLATE
from tests.support import scratch_database

STARTUP_SECONDS = 60
Line = dict[str, Any]


@dataclass(frozen=True)
class LoggingServer:
    base_url: str
    token: str
    admin_key: str
    stderr: Path

    def lines(self) -> list[Line]:
        """Every complete line written to stderr so far, each parsed as JSON."""
        text = self.stderr.read_text()
        complete = text[: text.rfind("\n") + 1]
        parsed = []
        for number, line in enumerate(complete.splitlines(), 1):
            try:
                parsed.append(json.loads(line))
            except ValueError:
                pytest.fail(f"stderr line {number} is not JSON: {line!r}")
        return parsed

    def wait_for(self, found: Callable[[list[Line]], bool]) -> list[Line]:
        """The lines, once ``found`` holds for them (polled, with a deadline)."""
        deadline = time.monotonic() + 15
        while not found(lines := self.lines()):
            assert time.monotonic() < deadline, json.dumps(lines[-20:], indent=1)
            time.sleep(0.1)
        return lines


@pytest.fixture(scope="module")
async def database_for_server(pg_admin_dsn: str) -> AsyncIterator[str]:
    async with scratch_database(pg_admin_dsn, prefix="logs", template=TEMPLATE) as dsn:
        yield dsn


@pytest.fixture(scope="module")
async def server(
    database_for_server: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LoggingServer]:
    folder = tmp_path_factory.mktemp("logs-server")
    port = processes.free_port()
    env = processes.environment(
        DATABASE_URL=database_for_server,
        RELINK_DATA_DIR=str(folder / "data"),
        RELINK_PORT=str(port),
        RELINK_LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
    )
    stdout, stderr = folder / "stdout", folder / "stderr"
    process = processes.start(["serve", "--sandbox"], env, stdout, stderr=stderr)
    base_url = f"http://127.0.0.1:{port}"
    try:
        await processes.wait_ready(base_url, process, stderr, seconds=STARTUP_SECONDS)
        # The banner (the page token, the admin key) is for the terminal, on stdout: a line
        # of it on stderr fails the tests' check that every line there is JSON.
        banner = stdout.read_text() + stderr.read_text()
        token = re.search(r"#token=([A-Za-z0-9._-]+)", banner)
        admin_key = re.search(r"X-Admin-Key: (rk_admin_[A-Za-z0-9_-]+)", banner)
        assert token is not None, banner
        assert admin_key is not None, banner
        yield LoggingServer(base_url, token.group(1), admin_key.group(1), stderr)
    finally:
        processes.stop(process)


def _of(lines: list[Line], request_id: str) -> list[Line]:
    return [line for line in lines if line.get("request_id") == request_id]


def _broken_account(client: httpx.Client) -> dict[str, Any]:
    """A demo account that needs a relink, once the sandbox's webhooks have announced it."""
    deadline = time.monotonic() + 15
    while True:
        accounts = client.get("/v1/accounts").json()["data"]
        broken = [a for a in accounts if a["link_health"] == "relink_required"]
        if broken:
            return broken[0]  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, accounts
        time.sleep(0.1)


def test_every_line_of_a_request_carries_its_id_and_is_json(server: LoggingServer) -> None:
    customer = {"Authorization": f"Bearer {server.token}"}
    with httpx.Client(base_url=server.base_url, headers=customer, timeout=15) as client:
        broken = _broken_account(client)
        refreshed = client.post(
            f"/v1/accounts/{broken['id']}/refresh", headers={"X-Request-Id": "test-refresh"}
        )
        created = client.post(
            "/v1/relink-sessions",
            json={"account_id": broken["id"], "ui_mode": "modal"},
            headers={"X-Request-Id": "test-relink"},
        )
    assert refreshed.status_code == 200, refreshed.text
    assert created.status_code == 201, created.text
    client_secret = created.json()["client_secret"]
    assert "_secret_" in client_secret

    # The access line is written once the response is sent.
    lines = server.wait_for(
        lambda lines: all(
            any(line["logger"] == "relink_api.access" for line in _of(lines, request_id))
            for request_id in ("test-refresh", "test-relink")
        )
    )

    refresh = _of(lines, "test-refresh")
    stripe_calls = [line for line in refresh if line["logger"] == "relink_api.stripe"]
    assert stripe_calls, refresh
    assert all(line["stripe_request_id"].startswith("req_") for line in stripe_calls)
    assert refresh[-1]["logger"] == "relink_api.access"
    assert refresh[-1]["path"] == f"/v1/accounts/{broken['id']}/refresh"
    assert refresh[-1]["status"] == 200

    relink = _of(lines, "test-relink")
    loggers = [line["logger"] for line in relink]
    assert "relink_api.stripe" in loggers, relink
    assert "relink_api.relink.creation" in loggers, relink  # "relink session … created"
    assert relink[-1]["message"].startswith("POST /v1/relink-sessions 201 ")
    assert {"ts", "level", "logger", "message"} <= relink[-1].keys()

    # The sandbox's Stripe API, served by the same process, answers requests of its own.
    for line in lines:
        if line["logger"] == "relink_api.access":
            assert line["request_id"], line
    written = server.stderr.read_text()
    assert client_secret not in written
    assert client_secret.split("_secret_")[1] not in written
    assert server.token not in written


def test_a_webhook_line_carries_the_id_of_the_webhook_post(server: LoggingServer) -> None:
    # The sandbox announces its demo accounts by webhook at start-up, from a loop of its
    # own: each delivery is a POST that gets an id of its own, and one line, its access
    # line, which says what became of the event.
    lines = server.wait_for(lambda lines: any("webhook_result" in line for line in lines))
    webhooks = [line for line in lines if "webhook_result" in line]
    assert all(line["logger"] == "relink_api.access" for line in webhooks), webhooks
    assert all(line["path"] == "/v1/webhooks/stripe" for line in webhooks), webhooks
    assert all(line["request_id"] and line["event_id"] in line["message"] for line in webhooks)
    assert not [line for line in lines if line["message"].startswith("webhook evt_")]


def test_background_loops_log_without_a_request_id(server: LoggingServer) -> None:
    admin = {"X-Admin-Key": server.admin_key, "X-Request-Id": "test-admin"}
    assert httpx.get(f"{server.base_url}/v1/admin/summary", headers=admin).status_code == 200
    # The demo's webhooks queue events for the host application: the delivery loop, started
    # with the server, sends them.
    lines = server.wait_for(
        lambda lines: any(line["logger"] == "relink_api.outbound.worker" for line in lines)
    )
    deliveries = [line for line in lines if line["logger"] == "relink_api.outbound.worker"]
    assert all("request_id" not in line for line in deliveries), deliveries
    (summary,) = _of(lines, "test-admin")
    assert summary["path"] == "/v1/admin/summary"
    assert server.admin_key not in server.stderr.read_text()
