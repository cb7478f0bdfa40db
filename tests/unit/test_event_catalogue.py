"""Every event relink-api can send is modelled, in the OpenAPI document's `webhooks`, and
described in docs/events.md; the models refuse what is not documented."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from relink_api.outbound.event_types import OutboundEventType
from relink_api.web.event_catalogue import EVENT_MODELS, validate_event

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = json.loads((ROOT / "openapi" / "openapi.json").read_text())
EVENTS_DOC = (ROOT / "docs" / "events.md").read_text()


def test_every_event_type_has_a_model() -> None:
    assert set(EVENT_MODELS) == set(OutboundEventType)


def test_the_document_describes_every_event_signed() -> None:
    webhooks = DOCUMENT["webhooks"]
    assert set(webhooks) == {event_type.value for event_type in OutboundEventType}
    for event_type, path_item in webhooks.items():
        operation = path_item["post"]
        assert operation["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{EVENT_MODELS[OutboundEventType(event_type)].__name__}"
        }, event_type
        assert [p["name"] for p in operation["parameters"]] == [
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
        ]
        assert set(operation["responses"]) == {"2XX"}


def test_docs_events_has_a_section_per_event() -> None:
    headings = set(re.findall(r"^### (\S+)$", EVENTS_DOC, re.MULTILINE))
    assert {event_type.value for event_type in OutboundEventType} <= headings


def _example() -> dict[str, Any]:
    (example,) = DOCUMENT["components"]["schemas"]["AccountRelinkRequired"]["examples"]
    assert isinstance(example, dict)
    return example


def test_the_documented_example_validates() -> None:
    assert validate_event(_example()).id == "evt_5c1f0e7a9b2d4c6e8f0a1b2c"


@pytest.mark.parametrize(
    "change",
    [
        lambda event: event["data"].update(client_secret="fcsess_client_secret_x"),
        lambda event: event.update(type="account.expired"),
        lambda event: event["data"].update(link_health="broken"),
        lambda event: event["data"]["relink"].update(url="https://example.com/relink"),
    ],
)
def test_what_is_not_documented_is_refused(change: Any) -> None:
    event = _example()
    change(event)
    with pytest.raises((ValidationError, ValueError)):
        validate_event(event)
