"""Clients generated from the committed openapi/openapi.json run a short relink against a live
sandbox (issue 6, "Generated SDKs"): a Python client from openapi-python-client and a
TypeScript client from @hey-api/openapi-ts, each compiled or type-checked strictly. Anything a
generator warns about, or cannot type, is a defect of the document and fails here."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox_server import RunningSandbox, running_sandbox

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "openapi" / "openapi.json"
PYTHON_SDK = ROOT / "sdk" / "python"
TYPESCRIPT_SDK = ROOT / "sdk" / "typescript"
VENV_BIN = Path(sys.executable).parent
GENERATE_TIMEOUT_SECONDS = 120
FLOW_TIMEOUT_SECONDS = 60
BROKEN_TRIO = ("relink_required", "relink_required_savings", "credit_card")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def tool_env(**extra: str) -> dict[str, str]:
    # No colours, so that warnings can be searched for.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "RELINK_"))}
    env.update(NO_COLOR="1", FORCE_COLOR="0", **extra)
    return env


def run_tool(command: list[str], cwd: Path, **extra_env: str) -> str:
    """Run a generator or compiler; fail the test with its output unless it succeeds.
    Returns stdout and stderr together, without colour codes."""
    done = subprocess.run(
        command,
        cwd=cwd,
        env=tool_env(**extra_env),
        capture_output=True,
        text=True,
        timeout=GENERATE_TIMEOUT_SECONDS,
        check=False,
    )
    output = ANSI.sub("", done.stdout + done.stderr)
    assert done.returncode == 0, f"{' '.join(command)} failed ({done.returncode}):\n{output}"
    return output


@pytest.fixture
def python_client(tmp_path: Path) -> Path:
    """The generated package ``relink_api_client``; returns the folder to put on PYTHONPATH."""
    out = tmp_path / "python"
    out.mkdir()
    output = run_tool(
        [
            str(VENV_BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(DOCUMENT),
            "--meta",
            "none",
            "--config",
            str(PYTHON_SDK / "config.yaml"),
            "--output-path",
            str(out / "relink_api_client"),
            "--fail-on-warning",
        ],
        cwd=out,
    )
    # It reports what it could not generate (an unsupported schema, a parameter it dropped)
    # as a warning and generates the rest anyway.
    assert "warning" not in output.lower(), output
    # mypy --strict on the flow, through the generated types. The generated modules' own
    # template quirks are the generator's business (follow-imports=silent); a document that
    # leaves a type untyped shows up as an error in the flow.
    typed = run_tool(
        [
            str(VENV_BIN / "mypy"),
            "--strict",
            "--follow-imports=silent",
            "--no-incremental",
            "--cache-dir",
            os.devnull,
            str(PYTHON_SDK / "flow.py"),
        ],
        cwd=out,
        MYPYPATH=str(out),
    )
    assert "Success" in typed, typed
    return out


@pytest.fixture
def typescript_flow(tmp_path: Path) -> Path:
    """The generated TypeScript client and the flow, compiled with tsc in strict mode;
    returns the compiled flow."""
    node_modules = TYPESCRIPT_SDK / "node_modules"
    if shutil.which("node") is None or not (node_modules / ".bin" / "openapi-ts").exists():
        pytest.fail(
            "the TypeScript generator is not installed: run scripts/install dev "
            "(it runs `npm ci` in sdk/typescript; needs node and npm)"
        )
    work = tmp_path / "typescript"
    work.mkdir()
    for name in ("package.json", "tsconfig.json", "openapi-ts.config.mjs", "flow.ts"):
        shutil.copy2(TYPESCRIPT_SDK / name, work / name)
    (work / "node_modules").symlink_to(node_modules, target_is_directory=True)
    output = run_tool(
        [str(work / "node_modules" / ".bin" / "openapi-ts"), "-f", "openapi-ts.config.mjs"],
        cwd=work,
        RELINK_OPENAPI=str(DOCUMENT),
        RELINK_TS_CLIENT_DIR=str(work / "client"),
    )
    # The strict validator prints [WARNING]/[ERROR] lines; plugins warn with a ❗️ or 🚨.
    for marker in ("[WARNING]", "[ERROR]", "Warning", "❗", "🚨", "unsupported"):
        assert marker not in output, output
    assert (work / "client" / "sdk.gen.ts").exists(), output
    run_tool([str(work / "node_modules" / ".bin" / "tsc"), "-p", "tsconfig.json"], cwd=work)
    compiled = work / "dist" / "flow.js"
    assert compiled.exists()
    return compiled


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


async def test_the_generated_python_client_relinks_an_account(
    python_client: Path, sandbox: RunningSandbox
) -> None:
    demo = await demo_customer(sandbox)
    outcome = await run_flow(
        [sys.executable, str(PYTHON_SDK / "flow.py"), sandbox.base_url, demo["token"]],
        PYTHONPATH=str(python_client),
    )
    assert outcome["client"] == "python"
    await assert_relinked(sandbox, demo, outcome)


async def test_the_generated_typescript_client_relinks_an_account(
    typescript_flow: Path, sandbox: RunningSandbox
) -> None:
    demo = await demo_customer(sandbox)
    node = shutil.which("node")
    assert node is not None
    outcome = await run_flow([node, str(typescript_flow), sandbox.base_url, demo["token"]])
    assert outcome["client"] == "typescript"
    await assert_relinked(sandbox, demo, outcome)
