"""Stripe's deliveries are taken by ``DeliveryRoute``, first among the app's routes: no walk
through the routers and no dependency resolution, yet every answer is the documented
route's, byte for byte."""

from __future__ import annotations

from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI

from tests.factories import fc_account
from tests.stripe_events import WEBHOOK_PATH, deliver, encode, event, signature_header

Answer = tuple[int, list[tuple[str, str]], bytes]


async def answers(client: httpx.AsyncClient, run: str) -> list[Answer]:
    """A new account's event, its redelivery, a bad signature, a signed body that is not
    an event, and a GET: each answer without its request id, ``run`` taken out of ids."""
    account = fc_account(f"fca_route{run}")
    document = event("financial_connections.account.created", account, event_id=f"evt_{run}")
    not_an_event = b"[1, 2]"
    responses = [
        await deliver(client, document),
        await deliver(client, document),
        await client.post(
            WEBHOOK_PATH,
            content=encode(document),
            headers={"Stripe-Signature": "t=1,v1=" + "0" * 64},
        ),
        await client.post(
            WEBHOOK_PATH,
            content=not_an_event,
            headers={"Stripe-Signature": signature_header(not_an_event)},
        ),
        await client.get(WEBHOOK_PATH),
    ]
    return [
        (
            response.status_code,
            [(name, value) for name, value in response.headers.items() if name != "x-request-id"],
            response.content.replace(run.encode(), b"<run>"),
        )
        for response in responses
    ]


async def test_deliveries_are_answered_as_the_documented_route_answers(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    lean = await answers(client, "lean1")
    # The same requests with the first route taken out: FastAPI's route answers them.
    assert type(app.router.routes[0]).__name__ == "DeliveryRoute"
    del app.router.routes[0]
    documented = await answers(client, "docd1")
    assert [status for status, _, _ in lean] == [200, 200, 400, 400, 405]
    assert lean == documented
    assert lean[0][2] == b'{"received":true,"event_id":"evt_<run>","result":"applied"}'


async def delivered_ok(client: httpx.AsyncClient) -> float:
    """The timed count of deliveries answered 200 (the registry is the process's)."""
    series = (
        'relink_http_request_duration_seconds_count{method="POST",'
        'route="/v1/webhooks/stripe",status="200"} '
    )
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith(series):
            return float(line.removeprefix(series))
    return 0.0


async def test_a_delivery_resolves_no_dependency(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    solved: list[Any] = []
    # Where FastAPI's request handler looks it up, on every request through a route.
    solve = fastapi.routing.solve_dependencies  # type: ignore[attr-defined]

    async def counted(*args: Any, **kwargs: Any) -> Any:
        solved.append(kwargs.get("dependant"))
        return await solve(*args, **kwargs)

    timed = await delivered_ok(client)
    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)
    document = event("financial_connections.account.created", fc_account("fca_route_deps"))
    response = await deliver(client, document)
    assert response.json()["result"] == "applied"
    assert solved == []
    # Still timed under its route's template; /metrics itself is FastAPI's, and counted.
    assert await delivered_ok(client) == timed + 1
    assert solved
