"""relink_webhook_events: each series looked up once, every event still counted."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from relink_api.metrics.families import REGISTRY, WEBHOOK_EVENTS
from tests.factories import fc_account
from tests.stripe_events import deliver, event


def applied_new_accounts() -> float:
    labels = {"type": "financial_connections.account.created", "result": "applied"}
    return REGISTRY.get_sample_value("relink_webhook_events_total", labels) or 0.0


async def test_each_series_is_looked_up_once(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[tuple[Any, ...]] = []
    labels = WEBHOOK_EVENTS.labels

    def counted(*values: Any) -> Any:
        looked_up.append(values)
        return labels(*values)

    before = applied_new_accounts()
    monkeypatch.setattr(WEBHOOK_EVENTS, "labels", counted)
    for n in range(3):
        document = event("financial_connections.account.created", fc_account(f"fca_counted{n}"))
        assert (await deliver(client, document)).json()["result"] == "applied"
    monkeypatch.undo()
    assert len(looked_up) <= 1
    assert applied_new_accounts() == before + 3


async def test_an_object_its_handler_cannot_read_is_counted_as_malformed(
    client: httpx.AsyncClient,
) -> None:
    labels = {"type": "financial_connections.account.created", "result": "malformed"}
    before = REGISTRY.get_sample_value("relink_webhook_events_total", labels) or 0.0
    # A signed, well-formed envelope whose object is not a Financial Connections account.
    document = event("financial_connections.account.created", {"object": "customer"})
    response = await deliver(client, document)
    assert response.status_code == 400
    assert REGISTRY.get_sample_value("relink_webhook_events_total", labels) == before + 1
