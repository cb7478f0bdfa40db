"""Browser end-to-end fixtures: the real server in sandbox mode, and Debian's Chromium.

The server is ``python -m relink_api serve --sandbox`` started as a subprocess on a free port,
with an empty data folder and no Stripe key or database URL: the embedded PostgreSQL and the
sandbox Stripe, exactly as a person running the README's command (``scripts/run``) gets them.
Chromium is the system's ``/usr/bin/chromium``; no browser is ever downloaded, and a missing
one fails the run.

Every ``screenshot`` is also an accessibility check: axe-core, installed from the npm registry
by its lock in ``tests/e2e/axe`` (``scripts/install dev``), runs on the page at that state at both
sizes and fails the test on any WCAG 2 A/AA violation.

Playwright's async API runs on the suite's one (session-scoped) event loop, so these tests
sit alongside the async integration tests in the same pytest run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from tests import processes

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "e2e"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
READY_TIMEOUT_SECONDS = 60.0
# Anything slower than this in a local browser is a bug worth failing on.
PAGE_TIMEOUT_MS = 10_000
AXE = REPO / "tests" / "e2e" / "axe"
AXE_SCRIPT = AXE / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
MOBILE = ViewportSize(width=375, height=812)


class Screenshot(Protocol):
    """Check a page with axe-core and save its full screen at its own size and at a phone's;
    ``step`` names one of several shots in a test."""

    def __call__(self, tab: Page, step: str | None = None) -> Awaitable[Path]: ...


def _server_env(data_dir: Path) -> dict[str, str]:
    """This process's environment without any Stripe, database or relink setting."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STRIPE_", "RELINK_")) and key != "DATABASE_URL"
    }
    env["RELINK_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _log_tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    with httpx.Client(base_url=base_url, timeout=5.0) as http:
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"relink-api serve exited with {process.returncode} before it was ready:"
                    f"\n{_log_tail(log_path)}"
                )
            try:
                if http.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"relink-api serve was not ready within {READY_TIMEOUT_SECONDS:.0f} s:"
                    f"\n{_log_tail(log_path)}"
                )
            time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes], pgdata: Path) -> None:
    """Stop the server as Ctrl+C does, and with it the embedded PostgreSQL it started.

    SIGINT, not SIGTERM: after a graceful shutdown uvicorn re-raises the signal it caught, and
    a process ended by SIGTERM skips the atexit hook that stops the embedded PostgreSQL.
    """
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    # Whatever happened above, leave no PostgreSQL of ours running.
    postmaster = pgdata / "postmaster.pid"
    if postmaster.exists():
        with contextlib.suppress(ValueError, IndexError, ProcessLookupError, OSError):
            os.kill(int(postmaster.read_text().splitlines()[0]), signal.SIGINT)


@pytest.fixture(scope="package")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``relink-api serve --sandbox`` on a free port, ready, for the tests of tests/e2e (and
    stopped after them: idle, it still polls its database while the rest of the suite runs)."""
    data_dir = tmp_path_factory.mktemp("relink-e2e")
    log_path = data_dir / "server.log"
    port = processes.free_port()
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "relink_api", "serve", "--sandbox", "--port", str(port)],
            cwd=REPO,
            env=_server_env(data_dir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(process, base_url, log_path)
        yield base_url
    finally:
        _stop(process, data_dir / "pg")


@dataclass(frozen=True)
class Demo:
    """A demo customer of its own for one test (POST /sandbox/control/demo-customers)."""

    customer_id: str
    token: str
    page_url: str
    accounts: dict[str, str]  # role → fca_ id
    # role → pm_ id: payment methods the business made from some accounts before they broke
    payment_methods: dict[str, str] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Sandbox:
    """The running server: its API as a customer sees it, and the sandbox's controls."""

    base_url: str
    http: httpx.AsyncClient

    async def demo_customer(self) -> Demo:
        response = await self.http.post("/sandbox/control/demo-customers")
        assert response.status_code in (200, 201), response.text
        body = response.json()
        # Its accounts reach the app as webhooks from the sandbox's outbox: deliver them now,
        # so the page and the API see the whole customer from the first request.
        await self.control("outbox/flush")
        return Demo(
            customer_id=body["customer_id"],
            token=body["token"],
            page_url=body["page_url"],
            accounts=dict(body["accounts"]),
            payment_methods=dict(body.get("payment_methods") or {}),
        )

    async def control(self, path: str, json: dict[str, Any] | None = None) -> Any:
        response = await self.http.post(f"/sandbox/control/{path}", json=json)
        assert response.is_success, f"POST /sandbox/control/{path}: {response.text}"
        return response.json()

    async def get(self, demo: Demo, path: str) -> Any:
        response = await self.http.get(path, headers=demo.auth)
        assert response.status_code == 200, f"GET {path}: {response.text}"
        return response.json()

    async def accounts(self, demo: Demo) -> dict[str, dict[str, Any]]:
        """The customer's accounts as the API has them, by id."""
        data: list[dict[str, Any]] = (await self.get(demo, "/v1/accounts?limit=100"))["data"]
        return {account["id"]: account for account in data}

    async def session(self, demo: Demo, session_id: str) -> dict[str, Any]:
        session: dict[str, Any] = await self.get(demo, f"/v1/relink-sessions/{session_id}")
        return session

    async def payment_methods(self, demo: Demo) -> list[dict[str, Any]]:
        """The payment methods relink-api set up for the customer (GET /v1/payment-methods)."""
        page = await self.get(demo, "/v1/payment-methods?limit=100")
        methods: list[dict[str, Any]] = page["data"]
        return methods


@pytest.fixture(scope="package")
async def sandbox(server_url: str) -> AsyncIterator[Sandbox]:
    async with httpx.AsyncClient(base_url=server_url, timeout=10.0) as http:
        yield Sandbox(base_url=server_url, http=http)


@pytest.fixture(scope="package")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        # Not a skip: CI must install Debian's chromium (apt-get install chromium).
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package.")
    return CHROMIUM


@pytest.fixture(scope="package")
async def browser(chromium_path: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as driver:
        chromium = await driver.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh browser context (no shared storage) at a desktop size."""
    context = await browser.new_context(
        viewport={"width": 1024, "height": 900}, locale="en-US", timezone_id="UTC"
    )
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    tab = await context.new_page()
    yield tab
    await context.close()


@pytest.fixture
async def demo(sandbox: Sandbox) -> Demo:
    return await sandbox.demo_customer()


def _axe_script() -> Path:
    """axe-core's browser script, as tests/e2e/axe/package-lock.json pins it."""
    if not AXE_SCRIPT.is_file():
        # Not a skip: the accessibility check is part of every screenshot.
        pytest.fail(f"{AXE_SCRIPT} is missing: run `scripts/install dev` (npm ci in {AXE}).")
    stamp = AXE / "node_modules" / ".installed-from-lock"
    if not stamp.is_file() or stamp.read_bytes() != (AXE / "package-lock.json").read_bytes():
        pytest.fail(f"{AXE}/node_modules is not installed from its lock: run `scripts/install dev`")
    return AXE_SCRIPT


def _describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines.extend(
            f"    {' '.join(node['target'])}: {node['html'][:160]}" for node in violation["nodes"]
        )
    return "\n".join(lines)


async def _check_accessibility(tab: Page, where: str) -> None:
    """Run axe-core on ``tab`` as it is now; fail with every WCAG 2 A/AA violation it finds."""
    if not await tab.evaluate("typeof window.axe === 'object'"):
        # Evaluated, not added as a <script>: the pages' CSP (rightly) blocks inline scripts,
        # and DevTools evaluation is outside it.
        await tab.evaluate(f"() => {{\n{_axe_script().read_text()}\n}}")
    results = await tab.evaluate(
        "tags => axe.run(document, "
        "{runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    violations: list[dict[str, Any]] = results["violations"]
    if violations:
        pytest.fail(f"axe-core: WCAG 2 A/AA violations on {where}:\n{_describe(violations)}")


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Screenshot:
    """Check the page with axe-core and save it as test-artifacts/e2e/<test>[-<step>].png at its
    size and <test>[-<step>]-375.png at 375x812 (git-ignored)."""

    async def save(tab: Page, step: str | None = None) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = f"{request.node.name}-{step}" if step else request.node.name
        path = ARTIFACTS / f"{name}.png"
        size = tab.viewport_size
        await _check_accessibility(tab, f"{name} at {size}")
        await tab.screenshot(path=path, full_page=True)
        if size is not None and size != MOBILE:
            await tab.set_viewport_size(MOBILE)
            try:
                await _check_accessibility(tab, f"{name} at {MOBILE}")
                await tab.screenshot(path=ARTIFACTS / f"{name}-375.png", full_page=True)
            finally:
                await tab.set_viewport_size(size)
        return path

    return save


@pytest.fixture
async def accounts(sandbox: Sandbox, demo: Demo) -> dict[str, dict[str, Any]]:
    """The demo customer's accounts by role, as the API has them before the test."""
    by_id = await sandbox.accounts(demo)
    return {role: by_id[account_id] for role, account_id in demo.accounts.items()}


@pytest.fixture
def console(page: Page) -> list[str]:
    """Everything the page writes to the console, and its uncaught errors."""
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    return messages
