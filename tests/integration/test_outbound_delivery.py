"""The delivery worker against a real receiver that verifies every delivery with the
``standardwebhooks`` library, driven by a fake clock (nothing sleeps for a backoff):
delivered exactly once after failures, retries that stop, endpoints disabled for failing,
addresses refused after DNS, and signatures across a secret rotation."""

from __future__ import annotations

import ipaddress
import json
import logging
import random
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from relink_api.auth import Operator
from relink_api.db import Database
from relink_api.outbound import addresses, backoff, endpoints, outbox
from relink_api.outbound.addresses import IPAddress
from relink_api.outbound.event_types import OutboundEventType
from relink_api.outbound.schemas import WebhookEndpointCreate
from relink_api.outbound.worker import deliver_due
from relink_api.settings import Settings
from tests.conftest import make_settings
from tests.outbound_receiver import OutboundReceiver

OPERATOR = Operator(key_id="test")
T0 = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, outbound_allow_private_addresses=True, outbound_workers=0)


@pytest.fixture
async def db(database_url: str, settings: Settings) -> AsyncIterator[Database]:
    database = await Database.connect(database_url, settings)
    yield database
    await database.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5, follow_redirects=False) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[OutboundReceiver]:
    with OutboundReceiver() as running:
        yield running


async def register(
    db: Database, settings: Settings, url: str, receiver: OutboundReceiver | None = None
) -> tuple[str, str]:
    created = await endpoints.create(
        db, settings, WebhookEndpointCreate(url=url), operator=OPERATOR
    )
    if receiver is not None:
        receiver.secrets = [created.value.secret]
    return created.value.id, created.value.secret


async def emit(db: Database, *, at: datetime = T0, number: int = 1) -> str:
    async with db.transaction() as conn:
        return await outbox.emit(
            conn,
            OutboundEventType.account_relink_required,
            {"account": {"id": f"fca_{number}"}, "link_health": "relink_required"},
            at=at,
            account_id=f"fca_{number}",
            customer_id="cus_A",
        )


async def delivery(db: Database, event_id: str) -> dict[str, Any]:
    async with db.connection() as conn:
        row = await conn.fetchrow("SELECT * FROM outbound_deliveries WHERE event_id = $1", event_id)
        attempts = await conn.fetch(
            """SELECT a.* FROM outbound_attempts a JOIN outbound_deliveries d
               ON d.id = a.delivery_id WHERE d.event_id = $1 ORDER BY a.id""",
            event_id,
        )
    assert row is not None
    return {**dict(row), "log": [dict(a) for a in attempts]}


async def test_failing_receiver_gets_the_event_once_after_backoff(
    db: Database, settings: Settings, http: httpx.AsyncClient, receiver: OutboundReceiver
) -> None:
    await register(db, settings, receiver.url, receiver)
    receiver.fail_first = 3
    event_id = await emit(db)
    seed = random.Random(7)
    expected = random.Random(7)
    now = T0
    due: list[datetime] = []
    for _ in range(4):
        assert await deliver_due(db, settings, now=now, client=http, random=seed.random) == 1
        # Nothing else is due until the backoff has passed (the lease hides it meanwhile).
        assert await deliver_due(db, settings, now=now, client=http, random=seed.random) == 0
        state = await delivery(db, event_id)
        if state["status"] == "delivered":
            break
        assert state["next_attempt_at"] == now + backoff.delay(state["attempts"], expected.random)
        due.append(state["next_attempt_at"])
        assert (
            await deliver_due(
                db, settings, now=state["next_attempt_at"] - timedelta(seconds=1), client=http
            )
            == 0
        )
        now = state["next_attempt_at"]
    state = await delivery(db, event_id)
    assert state["status"] == "delivered"
    assert state["attempts"] == 4
    assert [a["response_status"] for a in state["log"]] == [500, 500, 500, 204]
    assert [a["attempted_at"] for a in state["log"]] == [T0, *due]
    assert receiver.delivered_ids() == [event_id]  # once, verified
    assert all(r.verified for r in receiver.receipts)
    assert await deliver_due(db, settings, now=now + timedelta(days=5), client=http) == 0
    assert receiver.delivered_ids() == [event_id]
    assert await outbox.delivered_at(db, [event_id]) == {event_id: now}
    payload = receiver.accepted()[0].payload
    assert payload is not None
    assert payload["id"] == event_id
    assert receiver.accepted()[0].headers["user-agent"].startswith("relink-api/")


async def _drive(
    db: Database, settings: Settings, http: httpx.AsyncClient, event_id: str, *, until: datetime
) -> datetime:
    """Attempt the delivery each time it comes due, until it is no longer pending."""
    now = T0
    while now <= until:
        await deliver_due(db, settings, now=now, client=http, random=lambda: 0.999)
        state = await delivery(db, event_id)
        if state["status"] != "pending":
            return now
        now = state["next_attempt_at"]
    return now


async def test_retries_stop_after_the_window_and_a_failing_endpoint_is_disabled(
    db: Database,
    settings: Settings,
    http: httpx.AsyncClient,
    receiver: OutboundReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint_id, _ = await register(db, settings, receiver.url, receiver)
    receiver.fail_first = 10_000
    first = await emit(db)
    caplog.set_level(logging.INFO)
    stopped = await _drive(db, settings, http, first, until=T0 + timedelta(days=10))
    state = await delivery(db, first)
    assert state["status"] == "failed"
    assert state["next_attempt_at"] is None
    window = timedelta(hours=settings.outbound_retry_hours)
    last = state["log"][-1]["attempted_at"]
    assert last <= T0 + window < last + backoff.CAP
    assert stopped == last
    # 72 hours of failures, less than the 120 that disable the endpoint.
    health = await endpoints.endpoint_health(db)
    assert [(h.id, h.status, h.failing_since) for h in health] == [(endpoint_id, "enabled", T0)]
    # A second event keeps failing until the endpoint has failed for 120 hours.
    later = T0 + timedelta(hours=100)
    second = await emit(db, at=later, number=2)
    third = await emit(db, at=T0 + timedelta(hours=200), number=3)
    now = later
    while (await delivery(db, second))["status"] == "pending":
        await deliver_due(db, settings, now=now, client=http, random=lambda: 0.999)
        now = (await delivery(db, second))["next_attempt_at"] or now
    disabled_at = (await delivery(db, second))["log"][-1]["attempted_at"]
    assert disabled_at - T0 >= timedelta(hours=settings.outbound_disable_after_hours)
    assert (await delivery(db, third))["status"] == "failed"  # waited, failed with it
    [health_row] = await endpoints.endpoint_health(db)
    assert health_row.status == "disabled"
    assert health_row.disabled_reason == "failing"
    assert health_row.disabled_at == disabled_at
    assert health_row.pending_deliveries == 0
    assert any(
        r.levelno == logging.WARNING and "disabled" in r.getMessage() for r in caplog.records
    )
    # A success clears failing_since (after the operator enables it again).
    await endpoints.enable(db, endpoint_id, operator=OPERATOR)
    receiver.fail_first = 0
    receiver.receipts.clear()
    fourth = await emit(db, at=now, number=4)
    assert await deliver_due(db, settings, now=now, client=http) == 1
    assert receiver.delivered_ids() == [fourth]
    assert await endpoints.endpoint_health(db) == []


@pytest.mark.parametrize("answer", ["10.0.0.1", "169.254.169.254", "::ffff:127.0.0.1"])
async def test_a_host_resolving_to_a_private_address_is_refused_before_connecting(
    db: Database,
    database_url: str,
    http: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
) -> None:
    strict = make_settings(database_url, outbound_workers=0)
    await register(db, strict, "https://hooks.example.com/relink")
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address(answer)]

    monkeypatch.setattr(addresses, "resolve", resolve)
    connected: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        connected.append(request)
        return httpx.Response(204)

    event_id = await emit(db)
    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as guarded:
        assert await deliver_due(db, strict, now=T0, client=guarded) == 1
    assert asked == ["hooks.example.com"]
    assert connected == []
    state = await delivery(db, event_id)
    [attempt] = state["log"]
    assert attempt["response_status"] is None
    assert f"resolves to {ipaddress.ip_address(answer)}" in attempt["error"]
    assert "refused before connecting" in attempt["error"]
    assert state["status"] == "pending"
    assert state["attempts"] == 1


async def test_rotated_secret_signs_beside_the_old_one_for_a_day(
    db: Database,
    settings: Settings,
    http: httpx.AsyncClient,
    receiver: OutboundReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint_id, old = await register(db, settings, receiver.url, receiver)
    rotated = await endpoints.rotate_secret(db, endpoint_id, operator=OPERATOR)
    new = rotated.secret
    assert new != old
    assert new.startswith("whsec_")
    receiver.secrets = [new]
    now = datetime.now(UTC)
    during = await emit(db, at=now, number=1)
    await deliver_due(db, settings, now=now + timedelta(hours=23), client=http)
    after = await emit(db, at=now + timedelta(hours=25), number=2)
    await deliver_due(db, settings, now=now + timedelta(hours=25), client=http)
    first, second = receiver.accepted()
    assert (first.event_id, second.event_id) == (during, after)
    assert first.verifies_with(old)
    assert first.verifies_with(new)
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    assert second.verifies_with(new)
    assert not second.verifies_with(old)
    # The secrets are nowhere but in the endpoint's row: not in events, not in logs.
    async with db.connection() as conn:
        stored = await conn.fetch("SELECT payload FROM outbound_events")
    for secret in (old, new):
        assert all(secret not in json.dumps(row["payload"]) for row in stored)
        assert secret not in caplog.text
        assert secret.removeprefix("whsec_") not in caplog.text
    assert f"endpoint {endpoint_id}" in caplog.text  # one line per attempt was logged


async def test_a_rolled_back_change_queues_nothing(
    db: Database, settings: Settings, http: httpx.AsyncClient, receiver: OutboundReceiver
) -> None:
    await register(db, settings, receiver.url, receiver)

    async def change_that_fails() -> None:
        async with db.transaction() as conn:
            await outbox.emit(conn, OutboundEventType.account_recovered, {}, at=T0)
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError, match="state change failed"):
        await change_that_fails()
    assert await deliver_due(db, settings, now=T0 + timedelta(days=1), client=http) == 0
    assert receiver.receipts == []
