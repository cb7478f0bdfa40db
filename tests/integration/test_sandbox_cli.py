"""`relink-api sandbox …`: the command line drives a running sandbox over HTTP."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from tests.sandbox_server import RunningSandbox


async def relink_api(*args: str) -> subprocess.CompletedProcess[str]:
    # A subprocess, so the command's blocking HTTP calls do not stall the server's loop.
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "relink_api", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "RELINK_"))},
    )


async def test_commands_break_and_repair_links_the_app_then_sees(sandbox: RunningSandbox) -> None:
    url = ["sandbox", "--url", sandbox.base_url]
    created = await relink_api(*url, "demo-customer")
    assert created.returncode == 0, created.stderr
    lines = created.stdout.splitlines()
    healthy = next(line.split()[1] for line in lines if line.strip().startswith("healthy"))
    page_url = lines[-1]
    assert page_url.startswith(f"{sandbox.base_url}/#token=")
    headers = {"Authorization": f"Bearer {page_url.split('#token=')[1]}"}

    async def health() -> str:
        response = await sandbox.client.get(f"/v1/accounts/{healthy}", headers=headers)
        assert response.status_code == 200, response.text
        value: str = response.json()["link_health"]
        return value

    assert await health() == "ok"
    broken = await relink_api(
        *url, "deactivate", healthy, "--cause", "account_closed", "--action", "none"
    )
    assert broken.returncode == 0, broken.stderr
    assert f"{healthy} deactivated (account_closed, action none)" in broken.stdout
    assert await health() == "unrepairable"
    repaired = await relink_api(*url, "reactivate", healthy)
    assert repaired.returncode == 0, repaired.stderr
    assert await health() == "ok"
    expiring = await relink_api(*url, "expected-deactivation", healthy, "2099-01-15")
    assert expiring.returncode == 0, expiring.stderr
    assert await health() == "expiring"


async def test_errors_are_one_line_and_exit_1(sandbox: RunningSandbox) -> None:
    url = ["sandbox", "--url", sandbox.base_url]
    unknown = await relink_api(*url, "deactivate", "fca_doesnotexist")
    assert unknown.returncode == 1
    assert "No such financial_connections.account: 'fca_doesnotexist'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    wrong_kind = await relink_api(*url, "reactivate", "cus_123")
    assert wrong_kind.returncode == 2
    assert "fca_" in wrong_kind.stderr


async def test_no_sandbox_at_the_url_is_said_plainly() -> None:
    result = await relink_api("sandbox", "--url", "http://127.0.0.1:9", "demo-customer")
    assert result.returncode == 1
    assert "No sandbox answers at http://127.0.0.1:9" in result.stderr
