"""The edge's front (edge.front): one layer times, identifies, logs and protects every
answer, and each latency series is looked up once, not on every request."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from relink_api.edge.body_limit import BodyLimitMiddleware
from relink_api.edge.front import FrontMiddleware
from relink_api.edge.unexpected import UnexpectedErrorMiddleware
from relink_api.metrics import families


def test_the_edge_is_three_layers_without_cors(app: FastAPI) -> None:
    # Outermost first. Every layer wraps `send` again for every message of every answer.
    layers: list[object] = [layer.cls for layer in app.user_middleware]
    assert layers == [FrontMiddleware, BodyLimitMiddleware, UnexpectedErrorMiddleware]


async def test_each_latency_series_is_looked_up_once(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[tuple[Any, ...]] = []
    labels = families.HTTP_REQUEST_SECONDS.labels

    def counted(*values: Any) -> Any:
        looked_up.append(values)
        return labels(*values)

    monkeypatch.setattr(families.HTTP_REQUEST_SECONDS, "labels", counted)
    for _ in range(3):
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-request-id"].startswith("req_")
    assert looked_up == [("GET", "/healthz", "200")]
