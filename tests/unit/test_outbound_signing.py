"""Deliveries are signed as any Standard Webhooks library verifies them."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from relink_api.outbound import signing


def test_secrets_are_32_random_bytes_in_the_standard_format() -> None:
    first, second = signing.new_secret(), signing.new_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32


def test_every_secret_signs_and_each_verifies_alone() -> None:
    old, new, other = (signing.new_secret() for _ in range(3))
    body = signing.body({"id": "evt_1", "type": "account.recovered", "data": {"é": 1}})
    assert body == '{"id":"evt_1","type":"account.recovered","data":{"é":1}}'
    headers = signing.headers(
        event_id="evt_1", body=body, signing_secrets=[new, old], sent_at=datetime.now(UTC)
    )
    assert headers["webhook-id"] == "evt_1"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("relink-api/")
    assert Webhook(new).verify(body, headers)["id"] == "evt_1"
    assert Webhook(old).verify(body, headers)["id"] == "evt_1"
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)
