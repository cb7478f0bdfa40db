"""The operator API for outbound events: registering endpoints (URL checks, the secret shown
once, Idempotency-Key), disabling, enabling and rotating, the deliveries with their attempts,
redelivery, and the events."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from relink_api.auth import admin_key_digest
from relink_api.db import Database
from relink_api.outbound import outbox
from relink_api.outbound.event_types import OutboundEventType
from relink_api.outbound.worker import deliver_due
from relink_api.settings import Settings
from tests.conftest import make_settings
from tests.support import assert_problem

KEY = "rk_admin_" + "C" * 43
ADMIN = {"X-Admin-Key": KEY}
ENDPOINTS = "/v1/admin/webhook-endpoints"
RECEIVER = "http://127.0.0.1:9/hook"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        admin_api_key_sha256=admin_key_digest(KEY),
        outbound_allow_private_addresses=True,
        outbound_workers=0,
    )


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(ENDPOINTS, json={"url": RECEIVER, **body}, headers=ADMIN)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def emit(db: Database, type: OutboundEventType, account_id: str, at: datetime) -> str:
    async with db.transaction() as conn:
        return await outbox.emit(conn, type, {"n": account_id}, at=at, account_id=account_id)


@pytest.fixture
def answers() -> list[int]:
    """What the (mock) receiver answers, in order; 204 once the list is used up."""
    return []


async def deliver(db: Database, settings: Settings, answers: list[int], *, now: datetime) -> int:
    def receive(request: httpx.Request) -> httpx.Response:
        status = answers.pop(0) if answers else 204
        return httpx.Response(status, stream=httpx.ByteStream(b"ok"))

    async with httpx.AsyncClient(transport=httpx.MockTransport(receive)) as http:
        return await deliver_due(db, settings, now=now, client=http)


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/relink",
        "ftp://hooks.example.com/relink",
        "https://user:pass@hooks.example.com/relink",
        "https://hooks.example.com/relink#frag",
        "https://10.1.2.3/relink",
        "https://[::1]/relink",
        "https://169.254.169.254/latest",
        "https://[::ffff:192.168.0.1]/relink",
        "https://localhost/relink",
        "http://127.0.0.1:8080/relink",
        "not a url",
    ],
)
async def test_registration_refuses_urls_deliveries_may_not_go_to(
    database_url: str, url: str
) -> None:
    from tests.support import serve

    strict = make_settings(database_url, admin_api_key_sha256=admin_key_digest(KEY))
    async with serve(strict) as client:
        response = await client.post(ENDPOINTS, json={"url": url}, headers=ADMIN)
        problem = assert_problem(response, 422, "validation-failed")
        assert problem["errors"][0]["loc"] == ["body", "url"]
        assert url not in response.text or url == "not a url"
        listed = await client.get(ENDPOINTS, headers=ADMIN)
        assert listed.json()["data"] == []


async def test_created_endpoint_shows_its_secret_once(client: httpx.AsyncClient) -> None:
    created = await create(client, description="billing")
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert created["event_types"] == [t.value for t in OutboundEventType]
    assert created["status"] == "enabled"
    assert created["id"].startswith("we_")
    got = await client.get(f"{ENDPOINTS}/{created['id']}", headers=ADMIN)
    listed = await client.get(ENDPOINTS, headers=ADMIN)
    assert got.json() == {k: v for k, v in created.items() if k != "secret"}
    assert listed.json()["data"] == [got.json()]
    for response in (got, listed):
        assert secret not in response.text
        assert 'secret"' not in response.text
    assert (await client.get(ENDPOINTS)).status_code == 401


async def test_idempotency_key_returns_the_same_endpoint(client: httpx.AsyncClient) -> None:
    headers = {**ADMIN, "Idempotency-Key": "ep-1"}
    body = {"url": RECEIVER, "event_types": ["account.recovered"]}
    first = await client.post(ENDPOINTS, json=body, headers=headers)
    again = await client.post(ENDPOINTS, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert len((await client.get(ENDPOINTS, headers=ADMIN)).json()["data"]) == 1
    other = await client.post(ENDPOINTS, json={"url": RECEIVER}, headers=headers)
    assert_problem(other, 422, "idempotency-key-reused")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{ENDPOINTS}/we_nope"),
        ("POST", f"{ENDPOINTS}/we_nope/disable"),
        ("POST", f"{ENDPOINTS}/we_nope/enable"),
        ("POST", f"{ENDPOINTS}/we_nope/rotate-secret"),
        ("GET", f"{ENDPOINTS}/we_nope/deliveries"),
        ("POST", "/v1/admin/event-deliveries/dlv_nope/redeliver"),
    ],
)
async def test_unknown_ids_are_404(client: httpx.AsyncClient, method: str, path: str) -> None:
    assert_problem(await client.request(method, path, headers=ADMIN), 404, "not-found")


async def test_rotation_returns_the_new_secret_once(client: httpx.AsyncClient) -> None:
    created = await create(client)
    rotated = await client.post(f"{ENDPOINTS}/{created['id']}/rotate-secret", headers=ADMIN)
    assert rotated.status_code == 200
    assert rotated.headers["Cache-Control"] == "no-store"
    new = rotated.json()["secret"]
    assert new.startswith("whsec_")
    assert new != created["secret"]
    got = await client.get(f"{ENDPOINTS}/{created['id']}", headers=ADMIN)
    assert new not in got.text
    assert created["secret"] not in got.text
    assert got.json()["previous_secret_expires_at"] == rotated.json()["previous_secret_expires_at"]


async def test_deliveries_attempts_disable_enable_and_redeliver(
    client: httpx.AsyncClient, db: Database, settings: Settings, answers: list[int]
) -> None:
    endpoint = await create(client)
    deliveries = f"{ENDPOINTS}/{endpoint['id']}/deliveries"
    now = datetime.now(UTC)
    event_ids = [
        await emit(
            db, OutboundEventType.account_relink_required, f"fca_{n}", now + timedelta(seconds=n)
        )
        for n in range(3)
    ]
    answers.extend([503, 503])  # the first two attempts fail
    assert await deliver(db, settings, answers, now=now + timedelta(seconds=5)) == 3
    listed = (await client.get(deliveries, headers=ADMIN)).json()
    assert [d["event_id"] for d in listed["data"]] == event_ids[::-1]  # newest first
    by_status = {d["status"] for d in listed["data"]}
    assert by_status == {"pending", "delivered"}
    pending = (await client.get(deliveries, params={"status": "pending"}, headers=ADMIN)).json()
    assert len(pending["data"]) == 2
    one = pending["data"][0]
    assert one["attempts"] == 1
    assert one["event_type"] == "account.relink_required"
    [attempt] = one["attempt_log"]
    assert attempt["response_status"] == 503
    assert attempt["error"] is None
    assert attempt["duration_ms"] >= 0
    # Paging: one at a time, newest first, the cursor carrying on.
    page = (await client.get(deliveries, params={"limit": 2}, headers=ADMIN)).json()
    rest = await client.get(
        deliveries, params={"limit": 2, "cursor": page["next_cursor"]}, headers=ADMIN
    )
    assert page["has_more"]
    assert not rest.json()["has_more"]
    seen = [d["id"] for d in page["data"] + rest.json()["data"]]
    assert seen == [d["id"] for d in listed["data"]]
    bad = await client.get(deliveries, params={"cursor": "djE6bm9wZQ"}, headers=ADMIN)
    assert_problem(bad, 400, "invalid-cursor")
    # Disabling fails what waits; a redelivery needs the endpoint enabled again.
    disabled = await client.post(f"{ENDPOINTS}/{endpoint['id']}/disable", headers=ADMIN)
    assert disabled.json()["status"] == "disabled"
    assert disabled.json()["disabled_reason"] == "operator"
    failed = (await client.get(deliveries, params={"status": "failed"}, headers=ADMIN)).json()
    assert {d["id"] for d in failed["data"]} == {d["id"] for d in pending["data"]}
    redeliver = f"/v1/admin/event-deliveries/{one['id']}/redeliver"
    assert_problem(await client.post(redeliver, headers=ADMIN), 409, "webhook-endpoint-disabled")
    enabled = await client.post(f"{ENDPOINTS}/{endpoint['id']}/enable", headers=ADMIN)
    assert enabled.json()["status"] == "enabled"
    assert enabled.json()["disabled_reason"] is None
    assert enabled.json()["failing_since"] is None
    still = (await client.get(deliveries, params={"status": "failed"}, headers=ADMIN)).json()
    assert len(still["data"]) == 2  # enabling redelivers nothing by itself
    again = await client.post(redeliver, headers=ADMIN)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "pending"
    assert again.json()["attempts"] == 1
    assert len(again.json()["attempt_log"]) == 1
    assert await deliver(db, settings, answers, now=now + timedelta(seconds=10)) == 1
    done = (await client.get(deliveries, params={"status": "delivered"}, headers=ADMIN)).json()
    [redelivered] = [d for d in done["data"] if d["id"] == one["id"]]
    assert redelivered["attempts"] == 2
    assert [a["response_status"] for a in redelivered["attempt_log"]] == [503, 204]


async def test_events_are_listed_newest_first_by_type_and_account(
    client: httpx.AsyncClient, db: Database
) -> None:
    now = datetime.now(UTC)
    first = await emit(db, OutboundEventType.account_relink_required, "fca_1", now)
    second = await emit(
        db, OutboundEventType.account_recovered, "fca_1", now + timedelta(seconds=1)
    )
    third = await emit(db, OutboundEventType.account_recovered, "fca_2", now + timedelta(seconds=2))
    everything = (await client.get("/v1/admin/events", headers=ADMIN)).json()
    assert [e["id"] for e in everything["data"]] == [third, second, first]
    assert everything["data"][0]["payload"]["id"] == third
    recovered = await client.get(
        "/v1/admin/events", params={"type": "account.recovered"}, headers=ADMIN
    )
    assert [e["id"] for e in recovered.json()["data"]] == [third, second]
    mine = await client.get("/v1/admin/events", params={"account_id": "fca_1"}, headers=ADMIN)
    assert [e["id"] for e in mine.json()["data"]] == [second, first]
    page = (await client.get("/v1/admin/events", params={"limit": 1}, headers=ADMIN)).json()
    after = await client.get(
        "/v1/admin/events", params={"limit": 1, "cursor": page["next_cursor"]}, headers=ADMIN
    )
    assert [e["id"] for e in after.json()["data"]] == [second]
    wrong = await client.get("/v1/admin/events", params={"type": "nope"}, headers=ADMIN)
    assert_problem(wrong, 422, "validation-failed")
