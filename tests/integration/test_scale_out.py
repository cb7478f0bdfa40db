"""Scale-out on one machine (issue 17): two `relink-api serve` replicas and a `relink-api
worker` on one PostgreSQL, a sandbox on a database of its own standing in for Stripe
(tests.scale_cluster). What must hold across replicas is kept in PostgreSQL, not in a
process: each assertion below would fail if it were kept per process.

- Webhooks: a storm split across both replicas, half of it delivered to both at once,
  records each event once and leaves every account as Stripe (the stand-in) has it.
- Idempotency: one Idempotency-Key sent to both at once makes one Stripe session.
- Rate limits: one customer's burst is spent once across both, not once per replica.
- Outbound events: the worker delivers each event, whichever replica caused it, once.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from relink_api.auth import mint_token
from relink_api.gateway.objects import FcAccount
from tests import processes
from tests.conftest import make_settings
from tests.scale_cluster import CUSTOMER_BURST, CUSTOMER_PER_MINUTE, Cluster, running_cluster
from tests.stripe_events import deliver, event
from tests.support import assert_problem

CUSTOMERS = 10
CONCURRENCY = 16
# Which replicas each event goes to, in turn: half of them to both at the same moment.
SPLIT = [(0, 1), (1,), (1, 0), (0,)]
# What the stand-in does to each demo account (relink_api.sandbox.demo's roles) between
# the two snapshots the storm is made of, and the link health each must end in.
DEACTIVATED = ("healthy", "tokenized")
REACTIVATED = ("relink_required",)
FINAL_HEALTH = {
    "relink_required": "ok",
    "relink_required_savings": "relink_required",
    "credit_card": "relink_required",
    "unrepairable": "unrepairable",
    "expiring": "expiring",
    "healthy": "relink_required",
    "tokenized": "relink_required",
}
ACCOUNT_EVENT = "financial_connections.account."


@dataclass
class Storm:
    """The events sent, what each delivery was answered, and the stand-in's accounts."""

    customers: list[str]
    roles: dict[str, dict[str, str]]  # customer → role → account id
    events: list[dict[str, Any]]
    answers: dict[str, list[tuple[int, int, str | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # event id → (server, status, result)
    final: dict[str, FcAccount] = field(default_factory=dict)


@pytest.fixture(scope="module")
async def cluster(
    pg_admin_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    async with running_cluster(pg_admin_dsn, tmp_path_factory.mktemp("scale")) as running:
        yield running


def auth(cluster: Cluster, customer_id: str) -> dict[str, str]:
    """A customer's bearer token, signed with the replicas' token secret."""
    token = mint_token(make_settings(cluster.database_url), customer_id)
    return {"Authorization": f"Bearer {token}"}


async def _accounts_at_stand_in(cluster: Cluster, customer: str) -> dict[str, dict[str, Any]]:
    listed = await cluster.stripe.get(
        "/v1/financial_connections/accounts",
        params={"account_holder[customer]": customer, "limit": 100},
    )
    assert listed.status_code == 200, listed.text
    return {account["id"]: account for account in listed.json()["data"]}


async def _change_at_stand_in(cluster: Cluster, roles: dict[str, str]) -> None:
    for role in DEACTIVATED:
        changed = await cluster.stand_in.post(
            f"/sandbox/control/accounts/{roles[role]}/deactivate",
            json={"cause": "access_expired", "action": "relink_required"},
        )
        assert changed.status_code == 200, changed.text
    for role in REACTIVATED:
        changed = await cluster.stand_in.post(f"/sandbox/control/accounts/{roles[role]}/reactivate")
        assert changed.status_code == 200, changed.text


async def _make_storm(cluster: Cluster) -> Storm:
    """Demo customers at the stand-in; each account's snapshot as an `account.created`
    event, then, after the stand-in broke or repaired some, the newer snapshot as the
    `deactivated` or `reactivated` event Stripe would send."""
    made = []
    for _ in range(CUSTOMERS):
        demo = await cluster.stand_in.post("/sandbox/control/demo-customers")
        assert demo.status_code == 200, demo.text
        made.append(demo.json())
    customers = [demo["customer_id"] for demo in made]
    roles = {demo["customer_id"]: demo["accounts"] for demo in made}
    before = await asyncio.gather(*(_accounts_at_stand_in(cluster, c) for c in customers))
    await asyncio.gather(*(_change_at_stand_in(cluster, roles[c]) for c in customers))
    after = await asyncio.gather(*(_accounts_at_stand_in(cluster, c) for c in customers))
    base = int(time.time()) - 600
    events: list[dict[str, Any]] = []
    final: dict[str, FcAccount] = {}
    for customer, first, last in zip(customers, before, after, strict=True):
        assert set(first) == set(roles[customer].values())
        for role, account_id in roles[customer].items():
            events.append(event(ACCOUNT_EVENT + "created", first[account_id], created=base))
            kind = "deactivated" if role in DEACTIVATED else "reactivated"
            if role in DEACTIVATED + REACTIVATED:
                events.append(event(ACCOUNT_EVENT + kind, last[account_id], created=base + 300))
            final[account_id] = FcAccount.model_validate(last[account_id])
            base += 1
    return Storm(customers, roles, events, final=final)


@pytest.fixture(scope="module")
async def storm(cluster: Cluster) -> Storm:
    """The host application's endpoint registered through the operator API, then the storm:
    shuffled, split across the replicas, half of it sent to both at once (SPLIT)."""
    registered = await cluster.servers[0].post(
        "/v1/admin/webhook-endpoints",
        json={"url": cluster.receiver.url},
        headers={"X-Admin-Key": cluster.admin_key},
    )
    assert registered.status_code == 201, registered.text
    cluster.receiver.secrets = [registered.json()["secret"]]
    storm = await _make_storm(cluster)
    order = random.Random(17).sample(storm.events, len(storm.events))
    sends = [(server, document) for k, document in enumerate(order) for server in SPLIT[k % 4]]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def send(server: int, document: dict[str, Any]) -> None:
        async with gate:
            answer = await deliver(cluster.servers[server], document)
        result = answer.json().get("result") if answer.status_code == 200 else answer.text
        storm.answers[document["id"]].append((server, answer.status_code, result))

    await asyncio.gather(*(send(server, document) for server, document in sends))
    return storm


async def test_a_storm_across_both_replicas_records_each_event_once(
    cluster: Cluster, storm: Storm
) -> None:
    statuses = Counter(status for answers in storm.answers.values() for _, status, _ in answers)
    assert statuses == {200: len(storm.events) * 3 // 2}, storm.answers  # see SPLIT
    rows = await cluster.fetch("SELECT id, result FROM webhook_events")
    recorded = {row["id"]: row["result"] for row in rows}
    assert sorted(recorded) == sorted(document["id"] for document in storm.events)
    assert set(recorded.values()) <= {"applied", "stale"}
    taking_part: Counter[int] = Counter()
    for event_id, answers in storm.answers.items():
        # Exactly one delivery of each event applied it (or found it stale); a duplicate,
        # even one sent to the other replica at the same moment, was answered as one.
        first = [(server, result) for server, _, result in answers if result != "duplicate"]
        assert [result for _, result in first] == [recorded[event_id]], (event_id, answers)
        taking_part[first[0][0]] += 1
    assert set(taking_part) == {0, 1}, taking_part


async def test_every_account_ends_as_stripe_has_it_seen_from_either_replica(
    cluster: Cluster, storm: Storm
) -> None:
    rows = await cluster.fetch("SELECT id, customer_id, status, action, cause FROM accounts")
    stored = {
        row["id"]: (row["customer_id"], row["status"], row["action"], row["cause"]) for row in rows
    }
    expected = {
        account_id: (account.customer, account.status, account.action, account.cause)
        for account_id, account in storm.final.items()
    }
    assert stored == expected
    for index, customer in enumerate(storm.customers):
        listed = await cluster.servers[index % 2].get(
            "/v1/accounts", headers=auth(cluster, customer)
        )
        assert listed.status_code == 200, listed.text
        health = {account["id"]: account["link_health"] for account in listed.json()["data"]}
        assert health == {
            storm.roles[customer][role]: want for role, want in FINAL_HEALTH.items()
        }, customer


async def test_one_idempotency_key_through_both_replicas_makes_one_stripe_session(
    cluster: Cluster, storm: Storm
) -> None:
    customer = storm.customers[0]
    account_id = storm.roles[customer]["relink_required_savings"]
    headers = {**auth(cluster, customer), "Idempotency-Key": str(uuid.uuid4())}

    async def create(server: httpx.AsyncClient) -> httpx.Response:
        return await server.post(
            "/v1/relink-sessions", json={"account_id": account_id}, headers=headers
        )

    answers = list(await asyncio.gather(*(create(server) for server in cluster.servers)))
    for index, answer in enumerate(answers):
        if answer.status_code == 409:  # the other replica's request held the key then
            assert_problem(answer, 409, "idempotency-key-in-use")
            answers[index] = await create(cluster.servers[index])
    assert [answer.status_code for answer in answers] == [201, 201], [a.text for a in answers]
    bodies = [answer.json() for answer in answers]
    assert bodies[0]["id"] == bodies[1]["id"]
    assert bodies[0]["stripe_session_id"] == bodies[1]["stripe_session_id"]
    replayed = sorted(answer.headers.get("Idempotent-Replayed", "") for answer in answers)
    assert replayed == ["", "true"]
    made = await cluster.fetch(
        "SELECT id FROM sandbox.objects WHERE type = 'session'"
        " AND data->'relink_options'->>'account' = $1",
        account_id,
        stand_in=True,
    )
    assert [row["id"] for row in made] == [bodies[0]["stripe_session_id"]]
    ours = await cluster.fetch("SELECT id FROM relink_sessions WHERE account_id = $1", account_id)
    assert [row["id"] for row in ours] == [bodies[0]["id"]]


async def test_a_customers_rate_limit_holds_across_both_replicas(
    cluster: Cluster, storm: Storm
) -> None:
    customer = storm.customers[1]
    path = f"/v1/accounts/{storm.roles[customer]['unrepairable']}/refresh"
    attempts = 3 * CUSTOMER_BURST
    started = time.monotonic()
    answers = await asyncio.gather(
        *(
            cluster.servers[n % 2].post(path, headers=auth(cluster, customer))
            for n in range(attempts)
        )
    )
    elapsed = time.monotonic() - started
    admitted = [answer for answer in answers if answer.status_code == 200]
    refused = [answer for answer in answers if answer.status_code != 200]
    # The burst, and one more for each interval that passed while they were sent; per
    # replica it would be twice the burst.
    refilled = math.floor(elapsed * CUSTOMER_PER_MINUTE / 60)
    assert CUSTOMER_BURST <= len(admitted) <= CUSTOMER_BURST + refilled, [
        answer.status_code for answer in answers
    ]
    for answer in refused:
        assert_problem(answer, 429, "rate-limited")
        assert int(answer.headers["Retry-After"]) >= 1


async def test_the_worker_delivers_each_outbound_event_once(cluster: Cluster, storm: Storm) -> None:
    emitted = await cluster.fetch("SELECT id, type, account_id FROM outbound_events")

    async def all_delivered() -> bool:
        cluster.alive()
        return set(cluster.receiver.delivered_ids()) >= {row["id"] for row in emitted}

    await processes.wait_for(all_delivered, "the worker to deliver every event", seconds=20)
    delivered = cluster.receiver.delivered_ids()
    assert sorted(delivered) == sorted(row["id"] for row in emitted)
    assert Counter(delivered).most_common(1)[0][1] == 1
    attempts = await cluster.fetch("SELECT count(*) AS n FROM outbound_attempts")
    assert attempts[0]["n"] == len(emitted)
    # Each account the stand-in broke was reported broken once, whichever replica learned it.
    broken = Counter(
        row["account_id"] for row in emitted if row["type"] == "account.relink_required"
    )
    for customer in storm.customers:
        for role in DEACTIVATED:
            assert broken[storm.roles[customer][role]] == 1
