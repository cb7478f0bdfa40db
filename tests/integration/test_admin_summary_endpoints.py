"""The operator summary reports the host application's endpoints that are failing or
disabled: their customers are not being prompted, which the funnel alone would hide."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from relink_api.auth import Operator
from relink_api.db import Database
from relink_api.outbound import addresses, endpoints
from relink_api.outbound.addresses import IPAddress
from relink_api.outbound.schemas import WebhookEndpointCreate
from relink_api.outbound.worker import deliver_due
from relink_api.settings import Settings
from tests.integration.test_admin_api import ADMIN, client, settings
from tests.integration.test_outbound_delivery import emit

__all__ = ["client", "settings"]  # the operator API's fixtures, reused

T0 = datetime.now(UTC).replace(microsecond=0)


async def unhealthy(client: httpx.AsyncClient) -> list[dict[str, object]]:
    response = await client.get("/v1/admin/summary", headers=ADMIN)
    assert response.status_code == 200, response.text
    found: list[dict[str, object]] = response.json()["webhook_endpoints_unhealthy"]
    return found


async def test_a_failing_then_disabled_endpoint_is_in_the_summary(
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db: Database = app.state.database
    # Registered through the service: the client here refuses any secret in an admin answer,
    # and the create answer shows the signing secret, once, by design.
    created = await endpoints.create(
        db,
        settings,
        WebhookEndpointCreate(url="https://hooks.example.com/relink"),
        operator=Operator(key_id="test"),
    )
    endpoint_id = created.value.id
    assert await unhealthy(client) == []

    async def private(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("10.0.0.7")]

    monkeypatch.setattr(addresses, "resolve", private)
    await emit(db, at=T0)
    async with httpx.AsyncClient() as http:
        assert await deliver_due(db, settings, now=T0, client=http) == 1

    (failing,) = await unhealthy(client)
    assert failing == {
        "id": endpoint_id,
        "url": "https://hooks.example.com/relink",
        "status": "enabled",
        "failing_since": T0.isoformat().replace("+00:00", "Z"),
        "disabled_at": None,
        "disabled_reason": None,
        "pending_deliveries": 1,
    }

    disabled = await client.post(
        f"/v1/admin/webhook-endpoints/{endpoint_id}/disable", headers=ADMIN
    )
    assert disabled.status_code == 200, disabled.text
    (off,) = await unhealthy(client)
    assert (off["status"], off["disabled_reason"], off["pending_deliveries"]) == (
        "disabled",
        "operator",
        0,
    )
    assert timedelta(0) <= datetime.now(UTC) - datetime.fromisoformat(str(off["disabled_at"]))
