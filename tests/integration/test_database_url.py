"""A DATABASE_URL that cannot be used stops each command with one sentence on stderr and
exit status 2, as a bad setting does: no traceback, and never the password."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.processes import environment, free_port
from tests.support import dsn_for

PASSWORD = "secretpw"
# Enough for `serve` and `sync` against Stripe to get as far as the database.
KEYS = {
    "STRIPE_SECRET_KEY": "sk_test_database123",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_database123",
    "RELINK_AUTH_JWT_SECRET": "a-token-secret-of-at-least-32-bytes!",
}
COMMANDS = [["serve"], ["migrate"], ["prune-events"], ["sync"]]


def _environment(tmp_path: Path, **env: str) -> dict[str, str]:
    return environment(RELINK_DATA_DIR=str(tmp_path / "data"), **{**KEYS, **env})


async def _run(
    args: list[str], env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    # In a thread: the database fixtures share this event loop.
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "relink_api", *args],
        env=_environment(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _assert_one_sentence(result: subprocess.CompletedProcess[str], sentence: str) -> None:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert sentence in lines[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert PASSWORD not in result.stderr + result.stdout
    assert result.returncode == 2, result.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
async def test_a_url_of_another_database_is_refused_in_one_sentence(
    command: list[str], tmp_path: Path
) -> None:
    result = await _run(
        command, {"DATABASE_URL": f"mysql://root:{PASSWORD}@db.example/app"}, tmp_path
    )

    _assert_one_sentence(result, "DATABASE_URL must be a PostgreSQL URL")


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
async def test_an_unreachable_server_is_one_sentence_without_the_password(
    command: list[str], tmp_path: Path
) -> None:
    url = f"postgresql://u:{PASSWORD}@127.0.0.1:1/db"

    result = await _run(command, {"DATABASE_URL": url}, tmp_path)

    _assert_one_sentence(
        result,
        "Cannot open the database at DATABASE_URL (127.0.0.1:1/db): "
        "nothing accepts connections there.",
    )


async def test_a_pool_that_connects_lazily_fails_as_plainly(tmp_path: Path) -> None:
    # With no connection opened up front, the failure comes from the first query instead.
    env = {"DATABASE_URL": f"postgresql://u:{PASSWORD}@127.0.0.1:1/db"}
    result = await _run(["migrate"], {**env, "RELINK_DB_POOL_MIN_SIZE": "0"}, tmp_path)

    # The pool logs the lost query as it does for any request (a WARNING line); the
    # command's own word is still the one sentence, last.
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "Error: Cannot open the database at DATABASE_URL (127.0.0.1:1/db): "
        "nothing accepts connections there."
    )
    assert "Traceback" not in result.stderr + result.stdout
    assert PASSWORD not in result.stderr + result.stdout


def _with_user(dsn: str, user: str) -> str:
    # pgserver's DSNs: postgresql://postgres:@/<db>?host=<socket dir>
    scheme, _, rest = dsn.partition("://")
    return f"{scheme}://{user}:{PASSWORD}@{rest.partition('@')[2]}"


@pytest.mark.parametrize("command", [["serve"], ["migrate"]], ids=" ".join)
async def test_a_server_that_refuses_the_account_is_one_sentence(
    command: list[str], database_url: str, tmp_path: Path
) -> None:
    url = _with_user(database_url, "nobody_here")

    result = await _run(command, {"DATABASE_URL": url}, tmp_path)

    _assert_one_sentence(result, "the server refused the user name or password.")


async def test_a_database_that_does_not_exist_is_named(database_url: str, tmp_path: Path) -> None:
    url = dsn_for(database_url, "no_such_database")

    result = await _run(["migrate"], {"DATABASE_URL": url}, tmp_path)

    _assert_one_sentence(
        result,
        "Cannot open the database at DATABASE_URL (database no_such_database): "
        "that database does not exist on the server.",
    )


async def test_serve_still_serves_a_database_it_can_open(database_url: str, tmp_path: Path) -> None:
    # `serve` opens the database once before it listens: that must not stop a good one.
    port = free_port()
    env = _environment(tmp_path, DATABASE_URL=database_url, RELINK_PORT=str(port))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relink_api",
        "serve",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        ready = False
        async with httpx.AsyncClient(timeout=2) as http:
            for _ in range(200):
                if process.returncode is not None:
                    break
                try:
                    ready = (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
                except httpx.TransportError:
                    await asyncio.sleep(0.3)
                if ready:
                    break
        assert ready, f"exited {process.returncode}" if process.returncode is not None else ""
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        _, errors = await asyncio.wait_for(process.communicate(), timeout=30)
    assert "Traceback" not in errors.decode(), errors.decode()
