"""The sandbox is asked for by name and stays on loopback unless allowed off it; off loopback
its controls (which act for every customer) take its admin key, and its banner prints no
secret. Runs the container image's settings to show a server without keys refuses to start."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from relink_api.sandbox.setup import SECRETS_FILE
from tests import processes
from tests.sandbox_server import RunningSandbox, running_sandbox
from tests.support import assert_problem

ROOT = Path(__file__).resolve().parents[2]
REMOTE_CALLER = ("203.0.113.9", 1234)  # TEST-NET-3: an address that is nobody's loopback
STARTUP_SECONDS = 90


def _clean_environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("STRIPE_", "RELINK_", "DATABASE_URL"))
    }


def dockerfile_env() -> dict[str, str]:
    """The ENV instructions of the repository's Dockerfile, as the image sets them."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    values: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for pair in line[4:].split():
                name, _, value = pair.partition("=")
                values[name] = value
    return values


async def _listened_before_exit(process: asyncio.subprocess.Process, port: int) -> bool:
    """Whether anything accepted a connection on ``port`` while ``process`` ran (polled
    until it exits, for at most STARTUP_SECONDS)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_SECONDS
    while process.returncode is None and loop.time() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return True
    return False


async def _serve_and_watch(
    args: list[str], env: dict[str, str], port: int
) -> tuple[int | None, bool, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relink_api",
        "serve",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    listened = await _listened_before_exit(process, port)
    if process.returncode is None:
        process.send_signal(signal.SIGINT)  # what main did: it served the sandbox
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    return process.returncode, listened, (out + err).decode()


async def test_the_images_settings_without_keys_refuse_to_start(tmp_path: Path) -> None:
    image = dockerfile_env()
    assert image["RELINK_HOST"] == "0.0.0.0"  # what makes this matter
    port = processes.free_port()
    env = {
        **_clean_environment(),
        **image,
        # Only where this machine differs from the image: a free port, a writable folder.
        "RELINK_PORT": str(port),
        "RELINK_DATA_DIR": str(tmp_path / "data"),
    }

    status, listened, output = await _serve_and_watch([], env, port)

    assert not listened, output
    assert status == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0] == (
        "Error: relink-api has no Stripe keys to serve with: set STRIPE_SECRET_KEY, "
        "STRIPE_PUBLISHABLE_KEY and RELINK_AUTH_JWT_SECRET to use Stripe, or ask for the "
        "offline sandbox with `relink-api serve --sandbox` (or RELINK_SANDBOX=true)."
    )
    assert not (tmp_path / "data").exists()  # no sandbox secrets, no database


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--sandbox", "--host", "0.0.0.0"], {}), ([], {"RELINK_SANDBOX": "true"})],
    ids=["flag", "setting"],
)
async def test_a_sandbox_on_every_address_is_refused_unless_allowed(
    tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    port = processes.free_port()
    environment = {
        **_clean_environment(),
        **dockerfile_env(),
        **env,
        "RELINK_PORT": str(port),
        "RELINK_DATA_DIR": str(tmp_path / "data"),
    }

    status, listened, output = await _serve_and_watch(args, environment, port)

    assert not listened, output
    assert status == 2, output
    assert len(output.strip().splitlines()) == 1, output
    assert "loopback" in output
    assert "RELINK_SANDBOX_ALLOW_REMOTE=true" in output
    assert not (tmp_path / "data").exists()


# --- allowed off loopback -------------------------------------------------------------


@dataclass(frozen=True)
class RemoteSandbox:
    base_url: str
    data_dir: Path
    log: str


@pytest.fixture(scope="module")
async def remote_sandbox(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RemoteSandbox]:
    """`relink-api serve --sandbox` on 0.0.0.0, allowed, on an embedded PostgreSQL."""
    port = processes.free_port()
    data_dir = tmp_path_factory.mktemp("remote-sandbox") / "data"
    env = {
        **_clean_environment(),
        "RELINK_HOST": "0.0.0.0",
        "RELINK_PORT": str(port),
        "RELINK_DATA_DIR": str(data_dir),
        "RELINK_SANDBOX_ALLOW_REMOTE": "true",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = data_dir.parent / "serve.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "relink_api",
            "serve",
            "--sandbox",
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
            for _ in range(STARTUP_SECONDS * 4):
                assert process.returncode is None, log_path.read_text()
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.25)
            else:
                pytest.fail("no /readyz in time:\n" + log_path.read_text())
        # The banner is written by the lifespan before the server reports ready.
        yield RemoteSandbox(base_url=base_url, data_dir=data_dir, log=log_path.read_text())
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), timeout=30)


async def test_off_loopback_the_banner_prints_no_secret(remote_sandbox: RemoteSandbox) -> None:
    stored = json.loads((remote_sandbox.data_dir / SECRETS_FILE).read_text())
    log = remote_sandbox.log
    assert "Stripe is SIMULATED" in log
    assert stored["admin_api_key"] not in log
    assert "rk_admin_" not in log
    assert not re.search(r"#token=[A-Za-z0-9]", log), log
    assert str((remote_sandbox.data_dir / SECRETS_FILE).resolve()) in log


async def _relink_api(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "relink_api", *args],
        env={**_clean_environment(), "RELINK_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_a_token_the_command_mints_on_its_data_folder_is_accepted(
    remote_sandbox: RemoteSandbox,
) -> None:
    # The banner names the demo customer instead of printing its token.
    match = re.search(r"Demo customer (cus_\w+)", remote_sandbox.log)
    assert match is not None, remote_sandbox.log

    minted = await _relink_api("token", match.group(1), data_dir=remote_sandbox.data_dir)

    assert minted.returncode == 0, minted.stderr
    async with httpx.AsyncClient(base_url=remote_sandbox.base_url, timeout=10) as http:
        headers = {"Authorization": f"Bearer {minted.stdout.strip()}"}
        accounts = await http.get("/v1/accounts", headers=headers)
    assert accounts.status_code == 200, accounts.text


# --- the control routes, by caller ------------------------------------------------------


def _admin_key(sandbox: RunningSandbox) -> str:
    key: str = json.loads((sandbox.settings.data_dir / SECRETS_FILE).read_text())["admin_api_key"]
    return key


@pytest.fixture
async def remote(sandbox: RunningSandbox) -> AsyncIterator[httpx.AsyncClient]:
    """The running sandbox as a caller on another host reaches it (the peer address is the
    socket's; the server reads no proxy header)."""
    transport = httpx.ASGITransport(app=sandbox.app, client=REMOTE_CALLER)
    async with httpx.AsyncClient(transport=transport, base_url=sandbox.base_url) as http:
        yield http


async def _customers(sandbox: RunningSandbox) -> int:
    async with sandbox.app.state.database.connection() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM sandbox.objects WHERE type = 'customer'"
        )
    return count


CONTROLS = [
    ("POST", "/sandbox/control/demo-customers"),
    ("GET", "/sandbox/control/emails"),
    ("GET", "/sandbox/control/outbox"),
    ("POST", "/sandbox/control/outbox/flush"),
    ("POST", "/sandbox/control/accounts/fca_any/deactivate"),
    ("POST", "/sandbox/control/authorizations/fcauth_any/reactivate"),
]


@pytest.mark.parametrize(("method", "path"), CONTROLS)
@pytest.mark.parametrize("key", [None, "rk_admin_" + "x" * 43], ids=["no-key", "wrong-key"])
async def test_a_caller_on_another_host_needs_the_admin_key(
    sandbox: RunningSandbox,
    remote: httpx.AsyncClient,
    method: str,
    path: str,
    key: str | None,
) -> None:
    before = await _customers(sandbox)
    headers = {"X-Admin-Key": key} if key else {}

    answer = await remote.request(method, path, headers=headers)

    assert_problem(answer, 401, "admin-unauthorized")
    assert "rk_admin_" not in answer.text
    assert await _customers(sandbox) == before


async def test_with_the_admin_key_a_caller_on_another_host_is_let_in(
    sandbox: RunningSandbox, remote: httpx.AsyncClient
) -> None:
    headers = {"X-Admin-Key": _admin_key(sandbox)}

    created = await remote.post("/sandbox/control/demo-customers", headers=headers)
    emails = await remote.get("/sandbox/control/emails", headers=headers)

    assert created.status_code == 200, created.text
    assert created.json()["customer_id"].startswith("cus_")
    assert emails.status_code == 200, emails.text


async def test_a_caller_on_loopback_needs_no_key(sandbox: RunningSandbox) -> None:
    created = await sandbox.client.post("/sandbox/control/demo-customers")
    assert created.status_code == 200, created.text


async def test_the_stripe_stand_in_takes_its_secret_key_from_anyone(
    sandbox: RunningSandbox, remote: httpx.AsyncClient
) -> None:
    # Like Stripe's API: the sandbox's secret key, not the caller's address, lets one in.
    customer = (await sandbox.client.post("/sandbox/control/demo-customers")).json()
    path = "/sandbox/stripe/v1/financial_connections/accounts"
    query = {"account_holder[customer]": customer["customer_id"]}

    refused = await remote.get(path, params=query)
    allowed = await remote.get(
        path, params=query, headers={"Authorization": f"Bearer {sandbox.secret_key}"}
    )

    assert refused.status_code == 401, refused.text
    assert allowed.status_code == 200, allowed.text
    assert len(allowed.json()["data"]) == len(customer["accounts"])


async def test_behind_a_trusted_proxy_even_loopback_callers_need_the_key(
    database_url: str, tmp_path: Path
) -> None:
    # With forwarded headers believed, "127.0.0.1" may be what a caller wrote in
    # X-Forwarded-For: the address no longer proves anything.
    async with running_sandbox(
        database_url, tmp_path / "data", forwarded_allow_ips="127.0.0.1"
    ) as behind_proxy:
        refused = await behind_proxy.client.get("/sandbox/control/emails")
        allowed = await behind_proxy.client.get(
            "/sandbox/control/emails", headers={"X-Admin-Key": _admin_key(behind_proxy)}
        )

    assert_problem(refused, 401, "admin-unauthorized")
    assert allowed.status_code == 200, allowed.text
