"""The committed OpenAPI document is the app's, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

from relink_api.cli import render_openapi

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_committed_openapi_document_is_current() -> None:
    assert COMMITTED.read_text() == render_openapi(), (
        "openapi/openapi.json is stale: run `relink-api openapi`"
    )


def test_rendering_is_deterministic() -> None:
    assert render_openapi() == render_openapi()


def test_every_operation_is_documented_with_its_problems() -> None:
    document = json.loads(render_openapi())
    assert "Problem" in document["components"]["schemas"]
    operation_ids = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            operation_ids.add(operation["operationId"])
            assert operation.get("summary"), (method, path)
            assert len(operation.get("tags", [])) == 1, (method, path)
            # Bearer-token routes can answer 401; the webhook is signed, and answers 400;
            # the page's configuration is public.
            expected = "400" if path == "/v1/webhooks/stripe" else "401"
            if path.startswith("/v1/") and path != "/v1/config":
                problem = operation["responses"][expected]["content"]["application/problem+json"]
                assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert {
        "listAccounts",
        "getAccount",
        "refreshAccount",
        "getAuthorization",
        "createRelinkSession",
        "completeRelinkSession",
        "getRelinkSession",
        "getHealth",
        "getReadiness",
        "receiveStripeWebhook",
        "getClientConfig",
    } <= operation_ids
