"""A plain GET /v1/accounts skips FastAPI's dependency resolution, and answers every request,
plain or not, exactly as FastAPI's own path does."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from relink_api.accounts import list_route
from relink_api.auth import Principal
from relink_api.db import Database
from relink_api.pagination import encode_cursor
from relink_api.settings import Settings
from relink_api.web.deps import principal_of
from tests.conftest import Seed, bearer
from tests.integration import counted
from tests.integration.test_accounts_list_page import seed_every_kind

# Answers that differ from request to request whoever serves them.
_PER_REQUEST = {"date", "x-request-id", "server-timing"}


resolved = counted.resolved


async def test_a_plain_request_resolves_no_dependency(
    client: httpx.AsyncClient, seed: Seed, auth_a: dict[str, str], resolved: list[str]
) -> None:
    await seed("fca_one", status="active")

    plain = await client.get("/v1/accounts?limit=100&health=ok", headers=auth_a)
    assert resolved == []
    refused = await client.get("/v1/accounts?limit=0", headers=auth_a)

    assert plain.status_code == 200
    assert [account["id"] for account in plain.json()["data"]] == ["fca_one"]
    assert refused.status_code == 422
    assert resolved == ["/v1/accounts"]


async def test_dependency_overrides_are_honoured(
    app: FastAPI, client: httpx.AsyncClient, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed("fca_b", customer="cus_B", status="active")

    async def always_b() -> Principal:
        return Principal(customer_id="cus_B")

    app.dependency_overrides[principal_of] = always_b
    try:
        listed = await client.get("/v1/accounts?limit=100", headers=auth_a)
    finally:
        app.dependency_overrides.clear()

    assert [account["id"] for account in listed.json()["data"]] == ["fca_b"]


def _requests(settings: Settings, cursor: str) -> list[tuple[str, dict[str, str]]]:
    good = bearer(settings, "cus_A")
    return [
        ("", good),
        ("?limit=100", good),
        ("?limit=3", good),
        (f"?limit=3&cursor={cursor}", good),
        ("?health=ok,expiring", good),
        ("?health=ok&health=relink_required&limit=2", good),
        ("?health=bogus", good),
        ("?health=,", good),
        ("?health=", good),
        ("?cursor=not-a-cursor", good),
        ("?limit=0", good),
        ("?limit=101", good),
        ("?limit=010", good),
        ("?limit=1&limit=2", good),
        ("?limit=abc&colour=red", good),
        ("?cursor=" + "a" * 1025, good),
        (f"?cursor={cursor}%3D", good),
        ("?limit=100", {}),
        ("?limit=100", {"Authorization": "Bearer not-a-jwt"}),
        ("?limit=100", {"Authorization": "Basic dXNlcjpwdw=="}),
        ("?limit=0", {}),
        ("?colour=red", {}),
        ("?limit=100", bearer(settings, "cus_NoAccounts")),
    ]


async def _answers(
    client: httpx.AsyncClient, requests: list[tuple[str, dict[str, str]]]
) -> list[tuple[int, dict[str, str], bytes]]:
    answers = []
    for query, headers in requests:
        answer = await client.get("/v1/accounts" + query, headers=headers)
        kept = {k: v for k, v in answer.headers.items() if k not in _PER_REQUEST}
        answers.append((answer.status_code, kept, answer.content))
    return answers


async def test_every_answer_is_fastapis_own(
    client: httpx.AsyncClient,
    db: Database,
    seed: Seed,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    resolved: list[str],
) -> None:
    ids = await seed_every_kind(seed, db)
    requests = _requests(settings, encode_cursor(ids[2]))

    fast = await _answers(client, requests)
    skipped = len(requests) - len(resolved)
    monkeypatch.setattr(list_route, "plain_query", lambda query_string: None)
    resolved.clear()
    own = await _answers(client, requests)

    assert len(resolved) == len(requests)
    # The plain ones were served without resolving dependencies, and each answer is the
    # same, refusals and their order (a bad token before a bad page size) included.
    assert skipped == 13
    for request, mine, theirs in zip(requests, fast, own, strict=True):
        assert mine == theirs, request
    assert {status for status, _, _ in own} == {200, 400, 401, 422}


@pytest.mark.parametrize(
    ("query", "arguments"),
    [
        (b"", {}),
        (b"limit=100", {"limit": 100}),
        (b"limit=1&cursor=djE6ZmNh_-x", {"limit": 1, "cursor": "djE6ZmNh_-x"}),
        (
            b"health=ok,expiring&health=relink_required",
            {"health": ["ok,expiring", "relink_required"]},
        ),
    ],
)
def test_plain_queries_are_read_as_written(query: bytes, arguments: dict[str, Any]) -> None:
    assert list_route.plain_query(query) == arguments


@pytest.mark.parametrize(
    "query",
    [
        b"limit=0",
        b"limit=101",
        b"limit=010",
        b"limit=+1",
        b"limit=",
        b"limit",
        b"limit=1&limit=2",
        b"cursor=a&cursor=b",
        b"cursor=a%3D",
        b"cursor=a+b",
        b"cursor=" + b"a" * 1025,
        b"health=",
        b"health=ok&",
        b"colour=red",
        b"limit=1;cursor=a",
    ],
)
def test_anything_else_is_left_to_fastapi(query: bytes) -> None:
    assert list_route.plain_query(query) is None
