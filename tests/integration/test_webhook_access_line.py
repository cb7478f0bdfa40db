"""One log line a webhook delivery: its access line says what became of the event (its id,
type and result, in the message and as fields), with no line of the service's own."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.factories import fc_account
from tests.stripe_events import deliver, event


async def test_a_delivery_logs_one_line_that_names_its_event(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    document = event("financial_connections.account.created", fc_account("fca_logged"))
    caplog.set_level(logging.INFO)

    for result in ("applied", "duplicate"):
        caplog.clear()
        response = await deliver(client, document)
        assert response.json()["result"] == result

        lines = [record for record in caplog.records if record.name.startswith("relink_api")]
        assert [record.name for record in lines] == ["relink_api.access"], caplog.text
        line = lines[0]
        assert line.getMessage().startswith("POST /v1/webhooks/stripe 200 ")
        assert line.getMessage().endswith(
            f": webhook {document['id']} financial_connections.account.created: {result}"
        )
        fields = {
            name: getattr(line, name) for name in ("event_id", "event_type", "webhook_result")
        }
        assert fields == {
            "event_id": document["id"],
            "event_type": "financial_connections.account.created",
            "webhook_result": result,
        }
