"""Clients generated from the committed openapi/openapi.json run a short relink against a live
sandbox (issue 6, "Generated SDKs"): a Python client from openapi-python-client, a TypeScript
client from @hey-api/openapi-ts, and openapi-typescript's types (default options) with
openapi-fetch, each compiled or type-checked strictly first (conftest.py). Anything a
generator warns about is a defect of the document and fails here."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox_server import RunningSandbox, running_sandbox
from tests.sdk.conftest import Generated
from tests.sdk.tools import PYTHON_SDK, tool_env

FLOW_TIMEOUT_SECONDS = 60
BROKEN_TRIO = ("relink_required", "relink_required_savings", "credit_card")
# How each generator says it generated around something in the document.
WARNING_MARKERS = {
    # It reports what it could not generate (an unsupported schema, a parameter it dropped)
    # as a warning and generates the rest anyway.
    "python_client": re.compile(r"warning", re.IGNORECASE),
    # The strict validator prints [WARNING]/[ERROR] lines; plugins warn with a ❗️ or 🚨.
    "hey_api_client": re.compile(r"\[WARNING\]|\[ERROR\]|Warning|❗|🚨|unsupported"),
    # ⚠ before a warning, ✘ before an error.
    "openapi_typescript_client": re.compile(r"[⚠✘]"),
}


@pytest.mark.parametrize("generated", sorted(WARNING_MARKERS))
def test_the_generator_warns_about_nothing(generated: str, request: pytest.FixtureRequest) -> None:
    client: Generated = request.getfixturevalue(generated)
    warnings = [
        line for line in client.output.splitlines() if WARNING_MARKERS[generated].search(line)
    ]
    assert not warnings, client.output


@pytest.fixture
async def sandbox(database_url: str, tmp_path: Path) -> AsyncIterator[RunningSandbox]:
    async with running_sandbox(database_url, tmp_path / "data") as running:
        yield running


async def demo_customer(sandbox: RunningSandbox) -> dict[str, Any]:
    """A new demo customer, once the app has heard of its accounts."""
    response = await sandbox.client.post("/sandbox/control/demo-customers")
    assert response.status_code == 200, response.text
    demo: dict[str, Any] = response.json()
    flushed = await sandbox.client.post("/sandbox/control/outbox/flush")
    assert flushed.status_code == 200, flushed.text
    assert flushed.json()["pending"] == 0
    return demo


async def run_flow(command: list[str], **extra_env: str) -> dict[str, Any]:
    # A subprocess in a thread: the server runs on this test's event loop.
    done = await asyncio.to_thread(
        subprocess.run,
        command,
        env=tool_env(**extra_env),
        capture_output=True,
        text=True,
        timeout=FLOW_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, f"flow failed ({done.returncode}):\n{done.stdout}{done.stderr}"
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    outcome: dict[str, Any] = json.loads(lines[-1])
    return outcome


async def assert_relinked(
    sandbox: RunningSandbox, demo: dict[str, Any], outcome: dict[str, Any]
) -> None:
    broken = sorted(demo["accounts"][role] for role in BROKEN_TRIO)
    assert outcome["accounts_listed"] == len(demo["accounts"])
    assert outcome["account_id"] in broken
    # The flows send `{account_id}` alone: the server's defaults made it account-scope, modal.
    assert outcome["scope"] == "account"
    assert outcome["status"] == "completed"
    assert outcome["outcome"] == "relinked"
    assert outcome["failure_reason"] is None
    assert outcome["next_step"] == "none"
    assert outcome["linked_account_ids"] == [outcome["account_id"]]
    assert outcome["reactivated_account_ids"] == broken
    # The create was sent twice with one Idempotency-Key: one session, the second a replay.
    assert outcome["retried_session_id"] == outcome["session_id"]
    assert outcome["retry_replayed"] == "true"

    # The app recorded what the flow printed.
    auth = {"Authorization": f"Bearer {demo['token']}"}
    stored = await sandbox.client.get(f"/v1/relink-sessions/{outcome['session_id']}", headers=auth)
    assert stored.status_code == 200, stored.text
    assert stored.json()["outcome"] == "relinked"
    assert stored.json()["account_id"] == outcome["account_id"]
    assert stored.json()["ui_mode"] == "modal"


async def test_the_generated_python_client_relinks_an_account(
    python_typechecked: Generated, sandbox: RunningSandbox
) -> None:
    demo = await demo_customer(sandbox)
    outcome = await run_flow(
        [sys.executable, str(PYTHON_SDK / "flow.py"), sandbox.base_url, demo["token"]],
        PYTHONPATH=str(python_typechecked.folder),
    )
    assert outcome["client"] == "python"
    await assert_relinked(sandbox, demo, outcome)


@pytest.mark.parametrize(
    ("compiled", "script", "client"),
    [
        ("hey_api_compiled", "flow.js", "typescript"),
        ("openapi_typescript_compiled", "fetch-flow.js", "openapi-fetch"),
    ],
)
async def test_a_generated_typescript_client_relinks_an_account(
    compiled: str, script: str, client: str, request: pytest.FixtureRequest, sandbox: RunningSandbox
) -> None:
    dist: Path = request.getfixturevalue(compiled)
    node = shutil.which("node")
    assert node is not None
    demo = await demo_customer(sandbox)
    outcome = await run_flow([node, str(dist / script), sandbox.base_url, demo["token"]])
    assert outcome["client"] == client
    await assert_relinked(sandbox, demo, outcome)
