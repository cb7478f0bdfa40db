"""A plain POST /v1/relink-sessions skips FastAPI's dependency resolution, and answers every
request, plain or not, exactly as FastAPI's own path does."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from relink_api.auth import Principal
from relink_api.db import Database
from relink_api.ratelimit.service import customer_rate
from relink_api.relink import create_route
from relink_api.settings import Settings
from relink_api.web.deps import principal_of
from tests.conftest import Seed, bearer
from tests.factories import fc_session
from tests.integration import counted

SESSIONS = "/v1/financial_connections/sessions"
resolved = counted.resolved
# Answers that differ from request to request whoever serves them.
_PER_REQUEST = {"date", "x-request-id", "server-timing", "content-length"}

Request = tuple[str, dict[str, str], bytes]


@pytest.fixture
async def accounts(seed: Seed, stripe_mock: respx.MockRouter) -> None:
    await seed(status="inactive", action="relink_required", cause="access_expired")
    await seed("fca_b", customer="cus_B", status="inactive", action="relink_required")
    await seed("fca_ok", status="active")
    await seed("fca_c", customer="cus_C", status="inactive", action="relink_required")
    made = itertools.count(1)

    def create(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=fc_session(f"fcsess_{next(made)}"))

    def retrieve(request: httpx.Request, session_id: str) -> httpx.Response:
        return httpx.Response(200, json=fc_session(session_id))

    stripe_mock.post(SESSIONS).mock(side_effect=create)
    stripe_mock.get(path__regex=SESSIONS + r"/(?P<session_id>fcsess_\d+)").mock(
        side_effect=retrieve
    )


async def _exhaust(db: Database, settings: Settings, customer_id: str) -> None:
    """The customer's bucket empty for 1000.5 s more (two requests agree on Retry-After)."""
    rate = customer_rate(settings)
    async with db.connection() as conn:
        await conn.execute(
            "INSERT INTO rate_limits (key, tat, checked_at, allowed) VALUES "
            "($1, clock_timestamp() + make_interval(secs => $2::float8), clock_timestamp(), "
            "true)",
            "customer:" + customer_id,
            rate.tolerance + 1000.5,
        )


def _requests(settings: Settings, side: str) -> list[Request]:
    """Each kind of request; keys that create are the ``side``'s own, so each path creates."""
    a = bearer(settings, "cus_A")
    json_a = {**a, "Content-Type": "application/json"}
    body = b'{"account_id": "fca_checking"}'
    return [
        ("", json_a, body),
        ("", json_a, b'{"account_id":"fca_checking","scope":"institution","permissions":[]}'),
        ("", json_a, b'{"account_id": "fca_checking", "ui_mode": "hosted", "delivery": "url"}'),
        ("", {**json_a, "Idempotency-Key": f"key-{side}"}, body),
        # A replay of the one before, and the same key for another body.
        ("", {**json_a, "Idempotency-Key": f"key-{side}"}, body),
        ("", {**json_a, "Idempotency-Key": f"key-{side}"}, b'{"account_id": "fca_ok"}'),
        ("", {**json_a, "Idempotency-Key": "k" * 256}, body),
        ("", {**json_a, "Idempotency-Key": "tab\there"}, body),
        ("", json_a, b'{"account_id": '),
        ("", json_a, b""),
        ("", json_a, b"null"),
        ("", json_a, b'["fca_checking"]'),
        ("", json_a, b'{"account_id": "fca_checking", "colour": "red"}'),
        ("", json_a, b'{"account_id": ""}'),
        ("", json_a, b'{"account_id": "fca_checking", "ui_mode": "sideways"}'),
        ("", {**a, "Content-Type": "text/plain"}, body),
        ("", {**a, "Content-Type": "application/json; charset=utf-8"}, body),
        ("", a, body),
        ("?colour=red", json_a, body),
        ("", {"Content-Type": "application/json"}, body),
        ("", {"Content-Type": "application/json", "Authorization": "Bearer nope"}, body),
        ("", {"Content-Type": "application/json"}, b'{"account_id": '),
        ("", json_a, b'{"account_id": "fca_b"}'),
        ("", json_a, b'{"account_id": "fca_ok"}'),
        ("", {**bearer(settings, "cus_C"), "Content-Type": "application/json"}, b"{}"),
        ("", {**bearer(settings, "cus_C"), "Content-Type": "application/json"}, b'{"a": 1}'),
        ("", {**bearer(settings, "cus_C"), "Content-Type": "application/json"}, b"{}"[:1]),
        (
            "",
            {**bearer(settings, "cus_C"), "Content-Type": "application/json"},
            b'{"account_id": "fca_c"}',
        ),
    ]


async def _answer(client: httpx.AsyncClient, request: Request) -> tuple[int, dict[str, str], bytes]:
    query, headers, content = request
    answer = await client.post("/v1/relink-sessions" + query, headers=headers, content=content)
    kept = {k: v for k, v in answer.headers.items() if k not in _PER_REQUEST}
    body = answer.content
    if answer.status_code == 201:
        # Each create is a new session: its id and time are its own.
        created = json.loads(body)
        body = body.replace(created["id"].encode(), b"<id>")
        body = body.replace(created["created_at"].encode(), b"<created_at>")
        body = body.replace(created["stripe_session_id"].encode(), b"<stripe_id>")
        body = body.replace(created["client_secret"].encode(), b"<secret>")
    # Each path creates under a key of its own, which a refusal names.
    body = body.replace(b"key-fast", b"<key>").replace(b"key-own", b"<key>")
    return answer.status_code, kept, body


async def test_a_plain_create_resolves_no_dependency(
    client: httpx.AsyncClient, accounts: None, auth_a: dict[str, str], resolved: list[str]
) -> None:
    plain = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_checking"}, headers=auth_a
    )
    keyed = await client.post(
        "/v1/relink-sessions",
        json={"account_id": "fca_checking"},
        headers={**auth_a, "Idempotency-Key": "one"},
    )
    assert resolved == []
    refused = await client.post("/v1/relink-sessions", json={"account_id": ""}, headers=auth_a)

    assert (plain.status_code, keyed.status_code, refused.status_code) == (201, 201, 422)
    assert resolved == ["/v1/relink-sessions"]


async def test_dependency_overrides_are_honoured(
    app: FastAPI, client: httpx.AsyncClient, accounts: None, auth_a: dict[str, str]
) -> None:
    async def always_b() -> Principal:
        return Principal(customer_id="cus_B")

    app.dependency_overrides[principal_of] = always_b
    try:
        created = await client.post(
            "/v1/relink-sessions", json={"account_id": "fca_b"}, headers=auth_a
        )
    finally:
        app.dependency_overrides.clear()

    assert created.status_code == 201, created.text


async def test_every_answer_is_fastapis_own(
    client: httpx.AsyncClient,
    accounts: None,
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    resolved: list[str],
) -> None:
    await _exhaust(db, settings, "cus_C")
    fast_requests = _requests(settings, "fast")
    own_requests = _requests(settings, "own")
    plain_body = create_route._plain_body

    async def never_plain(request: Any) -> None:
        return None

    fast, own, plain = [], [], []
    # In turns, request by request, so that both paths meet the same stored state.
    for index, (mine, theirs) in enumerate(zip(fast_requests, own_requests, strict=True)):
        before = len(resolved)
        monkeypatch.setattr(create_route, "_plain_body", plain_body)
        fast.append(await _answer(client, mine))
        middle = len(resolved)
        monkeypatch.setattr(create_route, "_plain_body", never_plain)
        own.append(await _answer(client, theirs))
        # (FastAPI refuses a body that is not JSON before it resolves anything.)
        if middle == before and len(resolved) == middle + 1:
            plain.append(index)

    # Served without resolving dependencies: two creates, a hosted one (501: this server
    # has no public base URL), one keyed, its replay and its key reused for another body,
    # the unauthenticated, the other's account, the healthy one and the rate-limited
    # customer. Every answer is the same, refusals and their order
    # included.
    assert plain == [0, 1, 2, 3, 4, 5, 19, 20, 22, 23, 27]
    for request, mine_answer, their_answer in zip(fast_requests, fast, own, strict=True):
        assert mine_answer == their_answer, request
    statuses = [status for status, _, _ in own]
    assert set(statuses) == {201, 400, 401, 404, 409, 422, 429, 501}
    assert own[4][1]["idempotent-replayed"] == "true"
