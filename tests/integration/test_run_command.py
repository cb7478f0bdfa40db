"""The README's run command on a fresh data folder: it asks for the sandbox and needs no
other configuration, says Stripe is simulated, answers /readyz, serves the page, and its
printed token works."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import environment, free_port

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 120


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    port = free_port()
    data_dir = tmp_path_factory.mktemp("run-command")
    log = data_dir / "serve.log"
    env = environment(RELINK_DATA_DIR=str(data_dir / "data"), RELINK_PORT=str(port))
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(ROOT / "scripts" / "run")],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "no /readyz within the limit:\n" + log.read_text()
            time.sleep(0.5)
        yield base, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_it_says_stripe_is_simulated_and_prints_a_page_url(served: tuple[str, Path]) -> None:
    base, log = served
    text = log.read_text()
    assert "Stripe is SIMULATED" in text
    assert f"{base}/#token=" in text


def test_it_serves_the_page_and_its_configuration(served: tuple[str, Path]) -> None:
    base, _ = served
    page = httpx.get(f"{base}/", timeout=5)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    config = httpx.get(f"{base}/v1/config", timeout=5).json()
    assert config["mode"] == "sandbox"
    assert config["stripe_js_url"] == "/sandbox/stripe.js"
    assert config["publishable_key"].startswith("pk_test_sandbox")
    assert httpx.get(f"{base}/sandbox/stripe.js", timeout=5).status_code == 200


def test_the_printed_token_shows_the_demo_customers_accounts(served: tuple[str, Path]) -> None:
    base, log = served
    match = re.search(r"#token=([A-Za-z0-9._-]+)", log.read_text())
    assert match is not None
    headers = {"Authorization": f"Bearer {match.group(1)}"}
    deadline = time.monotonic() + 30
    while True:
        # The sandbox announces the demo accounts by webhook right after start-up.
        accounts = httpx.get(f"{base}/v1/accounts", headers=headers, timeout=5).json()["data"]
        if len(accounts) == 7 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    health = sorted(account["link_health"] for account in accounts)
    # The healthy ones: one at Riverside Credit Union, one at the tokenized-number bank.
    assert health == [
        "expiring",
        "ok",
        "ok",
        "relink_required",
        "relink_required",
        "relink_required",
        "unrepairable",
    ]


def test_the_printed_admin_key_opens_the_operator_api(served: tuple[str, Path]) -> None:
    base, log = served
    match = re.search(r"X-Admin-Key: (rk_admin_[A-Za-z0-9_-]+)", log.read_text())
    assert match is not None, log.read_text()
    summary = httpx.get(
        f"{base}/v1/admin/summary", headers={"X-Admin-Key": match.group(1)}, timeout=5
    )
    assert summary.status_code == 200, summary.text
    assert summary.json()["accounts_total"] >= 6
    refused = httpx.get(
        f"{base}/v1/admin/summary", headers={"X-Admin-Key": match.group(1) + "x"}, timeout=5
    )
    assert refused.status_code == 401


def test_hosted_relink_returns_to_the_server_it_runs_on(served: tuple[str, Path]) -> None:
    base, log = served
    match = re.search(r"#token=([A-Za-z0-9._-]+)", log.read_text())
    assert match is not None
    headers = {"Authorization": f"Bearer {match.group(1)}"}
    accounts = httpx.get(f"{base}/v1/accounts", headers=headers, timeout=5).json()["data"]
    broken = next(a for a in accounts if a["link_health"] == "relink_required")
    created = httpx.post(
        f"{base}/v1/relink-sessions",
        json={"account_id": broken["id"], "ui_mode": "hosted", "delivery": "url"},
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    assert created.json()["url"].startswith(f"{base}/sandbox/hosted/")
