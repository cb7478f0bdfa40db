"""GET /metrics: every family, with its labels, after a relink, webhooks and a delivery; who
may scrape; and one scrape summing the processes that share PROMETHEUS_MULTIPROC_DIR.

The counters are module-level and shared by every test in the run: assertions compare two
scrapes (deltas) or check presence, never absolute values of counters."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import respx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from relink_api.auth import admin_key_digest
from relink_api.db import Database
from relink_api.outbound.worker import deliver_due
from relink_api.settings import Settings
from tests.conftest import Seed, make_settings
from tests.factories import fc_account
from tests.integration.test_relink_complete import (
    mock_account_scope_success,
    seed_broken_pair,
    start_session,
)
from tests.stripe_events import WEBHOOK_PATH, deliver, encode, event
from tests.support import assert_problem, serve

KEY = "rk_admin_" + "M" * 43
ADMIN = {"X-Admin-Key": KEY}

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Accounts counted afresh on every scrape, so that two scrapes can be compared.
    return make_settings(
        database_url,
        admin_api_key_sha256=admin_key_digest(KEY),
        outbound_allow_private_addresses=True,
        metrics_accounts_cache_seconds=0,
    )


async def scrape(client: httpx.AsyncClient, **headers: str) -> tuple[str, Series]:
    """The exposition text, and every sample by (name, labels)."""
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    series = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return response.text, series


def labelled(series: Series, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: value for (sample, labels), value in series.items() if sample == name}


def one(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def grew(before: Series, after: Series, name: str, **labels: str) -> float:
    key = one(name, **labels)
    return after[key] - before.get(key, 0.0)


async def test_a_scrape_shows_every_family_after_a_relink_webhooks_and_a_delivery(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    settings: Settings,
) -> None:
    endpoint = await client.post(
        "/v1/admin/webhook-endpoints", json={"url": "http://127.0.0.1:9/hook"}, headers=ADMIN
    )
    assert endpoint.status_code == 201, endpoint.text
    _, before = await scrape(client)
    await seed_broken_pair(seed)
    session_id = await start_session(client, stripe_mock, auth_a)
    mock_account_scope_success(stripe_mock)
    completed = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)
    assert completed.status_code == 200, completed.text
    again = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)
    assert again.status_code == 200, again.text
    assert (await client.get("/v1/accounts/fca_checking", headers=auth_a)).status_code == 200
    assert (await client.get("/v1/nowhere/fca_checking")).status_code == 404
    assert (await client.get("/docs-assets/vendor/fca_checking.js")).status_code == 404
    deactivated = event(
        "financial_connections.account.deactivated",
        fc_account("fca_other", customer="cus_B", status="inactive", action="relink_required"),
    )
    assert (await deliver(client, deactivated)).json()["result"] == "applied"
    assert (await deliver(client, deactivated)).json()["result"] == "duplicate"
    unhandled = event("customer.created", {"id": "cus_Z", "object": "customer"})
    assert (await deliver(client, unhandled)).json()["result"] == "ignored"
    forged = await client.post(
        WEBHOOK_PATH, content=encode(unhandled), headers={"Stripe-Signature": "t=1,v1=00"}
    )
    assert forged.status_code == 400
    # The receiver is down: every delivery due is attempted once and stays pending.
    down = httpx.MockTransport(
        lambda request: httpx.Response(503, stream=httpx.ByteStream(b"down"))
    )
    async with httpx.AsyncClient(transport=down) as receiver:
        attempted = await deliver_due(db, settings, now=datetime.now(UTC), client=receiver)
    assert attempted >= 1

    text, after = await scrape(client)

    # Requests by route template, never a raw id; what no route matched is `unmatched`.
    http = "relink_http_request_duration_seconds_count"
    assert grew(before, after, http, method="POST", route="/v1/relink-sessions", status="201") == 1
    complete_route = "/v1/relink-sessions/{session_id}/complete"
    assert grew(before, after, http, method="POST", route=complete_route, status="200") == 2
    account = "/v1/accounts/{account_id}"
    assert grew(before, after, http, method="GET", route=account, status="200") == 1
    assert grew(before, after, http, method="GET", route="unmatched", status="404") == 1
    assert grew(before, after, http, method="GET", route="/docs-assets/vendor", status="404") == 1
    endpoints = "/v1/admin/webhook-endpoints"
    assert one(http, method="POST", route=endpoints, status="201") in after
    assert grew(before, after, http, method="POST", route=WEBHOOK_PATH, status="400") == 1
    assert "fca_checking" not in text
    assert session_id not in text
    assert one(http, method="GET", route="/metrics", status="200") in after
    # Stripe calls by operation and outcome, timed.
    stripe = "relink_stripe_request_duration_seconds_count"
    for operation in ("sessions.create", "sessions.retrieve", "accounts.retrieve"):
        operation = f"financial_connections.{operation}"
        assert grew(before, after, stripe, operation=operation, outcome="ok") >= 1, operation
    # Webhook events by type (handled types by name, others as `other`) and result.
    webhooks = "relink_webhook_events_total"
    deactivation = "financial_connections.account.deactivated"
    assert grew(before, after, webhooks, type=deactivation, result="applied") == 1
    assert grew(before, after, webhooks, type=deactivation, result="duplicate") == 1
    assert grew(before, after, webhooks, type="other", result="ignored") == 1
    assert grew(before, after, webhooks, type="unknown", result="invalid_signature") == 1
    # A relink outcome counted once, when recorded, not when read again.
    outcomes = "relink_relink_outcomes_total"
    assert grew(before, after, outcomes, scope="account", outcome="relinked") == 1
    # Deliveries by result, and the queue they left behind.
    assert grew(before, after, "relink_outbound_delivery_attempts_total", result="failed") == (
        attempted
    )
    assert after[one("relink_outbound_queue_depth")] == attempted
    assert after[one("relink_outbound_oldest_due_seconds")] >= 0
    # Accounts by link health, every health present; the pool.
    accounts = labelled(after, "relink_accounts")
    assert {dict(labels)["link_health"]: value for labels, value in accounts.items()} == {
        "ok": 2,
        "expiring": 0,
        "relink_required": 1,
        "unrepairable": 0,
        "disconnected": 0,
        "unknown": 0,
    }
    assert after[one("relink_accounts_count_age_seconds")] >= 0
    in_use = after[one("relink_db_pool_connections", state="in_use")]
    idle = after[one("relink_db_pool_connections", state="idle")]
    assert in_use + idle >= 1  # the pool keeps RELINK_DB_POOL_MIN_SIZE open
    limit = "relink_db_pool_limit_connections"
    assert after[one(limit, bound="min")] == settings.db_pool_min_size
    assert after[one(limit, bound="max")] == settings.db_pool_max_size
    # No `_created` sample doubles the series.
    assert not [name for name, _ in after if name.endswith("_created")]


async def test_the_accounts_gauge_is_reused_until_it_is_old(
    database_url: str, client: httpx.AsyncClient, seed: Seed
) -> None:
    def healthy(series: Series) -> float:
        return series[one("relink_accounts", link_health="ok")]

    async with serve(make_settings(database_url)) as cached:  # counted at most every 60 s
        _, first = await scrape(cached)
        await seed("fca_new")
        _, second = await scrape(cached)
    _, uncached = await scrape(client)

    assert healthy(first) == healthy(second) == 0
    assert healthy(uncached) == 1


@pytest.fixture
async def clients(app: FastAPI) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The app as seen from loopback (v4 and v6) and from elsewhere."""
    made = {}
    for name, address in (("v4", "127.0.0.1"), ("v6", "::1"), ("remote", "203.0.113.7")):
        transport = httpx.ASGITransport(app=app, client=(address, 1234))
        made[name] = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    yield made
    for http in made.values():
        await http.aclose()


async def test_loopback_callers_and_admin_key_holders_may_scrape_nobody_else(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    for name in ("v4", "v6"):
        assert (await clients[name].get("/metrics")).status_code == 200, name
    remote = clients["remote"]
    assert_problem(await remote.get("/metrics"), 401, "admin-unauthorized")
    wrong = await remote.get("/metrics", headers={"X-Admin-Key": "rk_admin_" + "X" * 43})
    assert_problem(wrong, 401, "admin-unauthorized")
    assert (await remote.get("/metrics", headers=ADMIN)).status_code == 200
    # Through a proxy on this machine the peer is loopback, but the caller is not.
    for header in ({"X-Forwarded-For": "203.0.113.7"}, {"Forwarded": "for=203.0.113.7"}):
        assert_problem(
            await clients["v4"].get("/metrics", headers=header), 401, "admin-unauthorized"
        )
        assert (await clients["v4"].get("/metrics", headers={**header, **ADMIN})).status_code == 200


# Records what a server or worker process would, then exits (`forget` as serve does).
_PROCESS = """
import sys
from relink_api.metrics.families import DB_POOL_CONNECTIONS, WEBHOOK_EVENTS
from relink_api.metrics.process import forget_at_exit
count, in_use, forget = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "forget"
WEBHOOK_EVENTS.labels("other", "ignored").inc(count)
DB_POOL_CONNECTIONS.labels("in_use").set(in_use)
if forget:
    forget_at_exit()
"""


async def test_one_scrape_sums_the_processes_sharing_the_multiprocess_directory(
    client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(shared), "PATH": "/usr/bin:/bin"}
    processes = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", _PROCESS, *args, env=env)
        for args in (("2", "3", "forget"), ("5", "4", "stay"))
    ]
    async with asyncio.timeout(60):
        assert [await process.wait() for process in processes] == [0, 0]
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))

    _, series = await scrape(client)

    assert series[one("relink_webhook_events_total", type="other", result="ignored")] == 7
    # livesum: the pool of the process that said goodbye no longer counts.
    assert series[one("relink_db_pool_connections", state="in_use")] == 4
    # The database's gauges are the scraping process's own, computed once.
    assert series[one("relink_outbound_queue_depth")] == 0
