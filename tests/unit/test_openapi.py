"""The committed OpenAPI document is the app's, byte for byte, and complete: every operation
named, described, tagged, secured and documented with every problem it can return."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from relink_api.app import create_app
from relink_api.cli.openapi import render_openapi
from relink_api.settings import Settings
from relink_api.web.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "openapi" / "openapi.json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PUBLIC = {"/healthz", "/readyz", "/v1/config", "/v1/webhooks/stripe"}
# Open to callers on the server's machine; anyone else needs an admin key (docs/metrics.md).
LOOPBACK_OR_ADMIN = {"/metrics"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(render_openapi())
    return loaded


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {operation["operationId"]: operation for _, _, operation in operations(document)}


def test_committed_openapi_document_is_current() -> None:
    assert COMMITTED.read_text() == render_openapi(), (
        "openapi/openapi.json is stale: run `relink-api openapi`"
    )


@pytest.mark.parametrize("hash_seed", ["0", "1"])
def test_a_fresh_process_writes_the_committed_document(tmp_path: Path, hash_seed: str) -> None:
    # What `relink-api openapi` writes in a process of its own, under two string-hash seeds:
    # anything ordered by a set or a hash would differ between them.
    written = tmp_path / "openapi.json"
    subprocess.run(
        [sys.executable, "-m", "relink_api", "openapi", "--output", str(written)],
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert written.read_bytes() == COMMITTED.read_bytes(), (
        f"with PYTHONHASHSEED={hash_seed}, a new process renders another document"
    )


def test_committed_document_passes_openapi_spec_validator() -> None:
    validate(json.loads(COMMITTED.read_text()))


def test_every_operation_is_named_tagged_summarized_and_described(
    document: dict[str, Any],
) -> None:
    seen = set()
    for path, method, operation in operations(document):
        operation_id = operation["operationId"]
        assert re.fullmatch(r"[a-z][a-zA-Z0-9]+", operation_id), (method, path)
        assert operation_id not in seen
        seen.add(operation_id)
        assert operation.get("summary"), (method, path)
        assert operation.get("description"), (method, path)
        assert len(operation.get("tags", [])) == 1, (method, path)
    assert {
        "listAccounts",
        "getAccount",
        "refreshAccount",
        "getAuthorization",
        "createRelinkSession",
        "completeRelinkSession",
        "getRelinkSession",
        "createRelinkPaymentMethod",
        "completeRelinkPaymentMethod",
        "getRelinkPaymentMethod",
        "listPaymentMethods",
        "adminListAccounts",
        "adminGetSummary",
        "adminSendRelinkEmail",
        "getHealth",
        "getReadiness",
        "receiveStripeWebhook",
        "getClientConfig",
    } <= seen
    declared_tags = {tag["name"] for tag in document["tags"]}
    used_tags = {operation["tags"][0] for _, _, operation in operations(document)}
    assert used_tags <= declared_tags


# The operations that call Stripe on a customer's or an operator's behalf.
RATE_LIMITED = {
    "refreshAccount",
    "getAuthorization",
    "createRelinkSession",
    "completeRelinkSession",
    "createRelinkPaymentMethod",
    "completeRelinkPaymentMethod",
    "adminSendRelinkEmail",
}


def test_every_operation_documents_the_problems_it_can_return(
    document: dict[str, Any],
) -> None:
    for path, method, operation in operations(document):
        responses = operation["responses"]
        where = (method, path)
        # Anything unexpected is a 500; every route takes some input it can refuse.
        assert {"422", "500"} <= set(responses), where
        if path not in PUBLIC:
            assert "401" in responses, where
            assert "503" in responses, where  # the database
        if "requestBody" in operation:
            assert "400" in responses, where  # a body that cannot be read
            assert "413" in responses, where  # the body limit in front of every route
        else:
            assert "413" not in responses, where
        if any(
            p["in"] == "query" and p["name"] == "cursor" for p in operation.get("parameters", [])
        ):
            assert "400" in responses, where  # invalid-cursor
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                # Errors are only ever problem documents, never plain JSON.
                assert response["content"] == {
                    PROBLEM_MEDIA_TYPE: {
                        "schema": PROBLEM_REF,
                        "example": response["content"][PROBLEM_MEDIA_TYPE]["example"],
                    }
                }, (where, status)
                example = response["content"][PROBLEM_MEDIA_TYPE]["example"]
                assert example["status"] == int(status), (where, status)
                assert example["type"].startswith(PROBLEM_TYPE_BASE)
    webhook = document["paths"]["/v1/webhooks/stripe"]["post"]["responses"]
    assert {"400", "404", "413", "422", "500", "502", "503"} <= set(webhook)
    # Rate limits (issue 11): exactly the routes that call Stripe for a caller, and every
    # operator route (failed admin keys are throttled), answer 429, always with Retry-After.
    # Stripe's own rate limit stays a 503 stripe-rate-limited.
    for path, method, operation in operations(document):
        limited = (
            operation["operationId"] in RATE_LIMITED
            or path.startswith("/v1/admin/")
            or path in LOOPBACK_OR_ADMIN
        )
        assert ("429" in operation["responses"]) == limited, (method, path)
        if limited:
            assert operation["responses"]["429"]["headers"]["Retry-After"]["required"] is True


def test_problem_schema_points_at_the_problem_types(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert "docs/problems.md" in problem["description"]
    assert problem["properties"]["type"] == {"$ref": "#/components/schemas/ProblemType"}
    assert "docs/problems.md" in document["components"]["schemas"]["ProblemType"]["description"]
    assert problem["required"] == ["type", "title", "status", "detail"]
    assert problem["properties"]["errors"]["anyOf"][0]["items"] == {
        "$ref": "#/components/schemas/ProblemFieldError"
    }


def _enum_locations(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, dict):
        if "enum" in value:
            yield path
        for key, item in value.items():
            yield from _enum_locations(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _enum_locations(item, f"{path}/{index}")


def test_every_enum_is_a_named_schema(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    # Only a component's top level may carry `enum`: anywhere else is an anonymous enum
    # that generators cannot name.
    assert [
        location
        for location in _enum_locations(document, "#")
        if not re.fullmatch(r"#/components/schemas/[A-Za-z]+", location)
    ] == []
    for name in (
        "LinkHealth",
        "AccountStatus",
        "RelinkScope",
        "Permission",
        "RelinkOutcome",
        "FailureReason",
        "NextStep",
        "RelinkSessionStatus",
        "UiMode",
        "Delivery",
        "SetupStatus",
        "UnusableReason",
        "WebhookResult",
        "Mode",
        "ProbeState",
    ):
        assert schemas[name]["type"] == "string", name
        assert schemas[name]["enum"], name
    for operation_id in ("listAccounts", "adminListAccounts"):
        [health] = [p for p in by_id(document)[operation_id]["parameters"] if p["name"] == "health"]
        assert health["schema"]["type"] == "array"
        assert health["schema"]["items"] == {"$ref": "#/components/schemas/LinkHealth"}


def test_security_schemes_and_requirements(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["BearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["BearerAuth"]["description"],
    }
    assert schemes["AdminApiKey"]["type"] == "apiKey"
    assert schemes["AdminApiKey"]["in"] == "header"
    assert schemes["AdminApiKey"]["name"] == "X-Admin-Key"
    for path, method, operation in operations(document):
        expected: list[dict[str, list[str]]]
        if path in PUBLIC:
            expected = []
        elif path.startswith("/v1/admin/"):
            expected = [{"AdminApiKey": []}]
        elif path in LOOPBACK_OR_ADMIN:
            expected = [{"AdminApiKey": []}, {}]
        else:
            expected = [{"BearerAuth": []}]
        assert operation.get("security") == expected, (method, path)
    webhook = document["paths"]["/v1/webhooks/stripe"]["post"]
    [signature] = [p for p in webhook["parameters"] if p["name"] == "Stripe-Signature"]
    assert signature["in"] == "header"
    assert "v1=" in signature["description"]
    assert "Stripe-Signature" in webhook["description"]


def test_every_operation_declares_its_security(document: dict[str, Any]) -> None:
    # Without `security` an operation says nothing (the document has no global requirement):
    # a client cannot tell a public operation from a forgotten one, and Redocly's
    # security-defined refuses it. A public operation says `security: []`.
    assert "security" not in document
    undeclared = [
        f"{method.upper()} {path}"
        for path, method, operation in operations(document)
        if "security" not in operation
    ]
    assert not undeclared


def test_servers_name_the_address_serve_listens_on_by_default(document: dict[str, Any]) -> None:
    settings = Settings.model_construct()
    [server] = document["servers"]
    assert server["url"] == f"http://{settings.host}:{settings.port}"
    assert "RELINK_PUBLIC_BASE_URL" in server["description"]


def test_a_deployment_serves_its_own_base_url() -> None:
    settings = Settings.model_construct(public_base_url="https://relink.example.com/")
    [server] = create_app(settings).openapi()["servers"]
    assert server["url"] == "https://relink.example.com"


def test_info_names_the_license_pyproject_declares_and_a_contact(
    document: dict[str, Any],
) -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert document["info"]["license"] == {"name": declared, "identifier": declared}
    assert document["info"]["contact"]["name"]


def test_links_connect_what_a_client_calls_next(document: dict[str, Any]) -> None:
    operations_by_id = by_id(document)

    def links(operation_id: str, status: str) -> dict[str, Any]:
        found: dict[str, Any] = operations_by_id[operation_id]["responses"][status]["links"]
        return found

    created = links("createRelinkSession", "201")
    assert created["GetRelinkSession"]["operationId"] == "getRelinkSession"
    assert created["CompleteRelinkSession"]["operationId"] == "completeRelinkSession"
    for link in created.values():
        assert link["parameters"] == {"session_id": "$response.body#/id"}
    setup = links("createRelinkPaymentMethod", "201")
    assert {link["operationId"] for link in setup.values()} == {
        "getRelinkPaymentMethod",
        "completeRelinkPaymentMethod",
    }
    listed = links("listAccounts", "200")
    assert listed["GetFirstAccount"] == {
        "operationId": "getAccount",
        "parameters": {"account_id": "$response.body#/data/0/id"},
        "description": listed["GetFirstAccount"]["description"],
    }
    # Every link names an operation that exists and parameters that it takes.
    for _, _, operation in operations(document):
        for response in operation["responses"].values():
            for link in response.get("links", {}).values():
                target = operations_by_id[link["operationId"]]
                names = {p["name"] for p in target.get("parameters", [])}
                assert set(link.get("parameters", {})) <= names, link
                if "requestBody" in link:
                    assert "requestBody" in target, link


def test_idempotent_creates_document_their_response_headers(document: dict[str, Any]) -> None:
    operations_by_id = by_id(document)
    for operation_id in (
        "createRelinkSession",
        "createRelinkPaymentMethod",
        "adminSendRelinkEmail",
    ):
        headers = operations_by_id[operation_id]["responses"]["201"]["headers"]
        assert {"Idempotent-Replayed", "Cache-Control"} <= set(headers), operation_id
        # A bad key is a 400, a key in flight a 409, a reused one a 422.
        assert {"400", "409", "422"} <= set(operations_by_id[operation_id]["responses"])


def _has_example(schema: dict[str, Any], document: dict[str, Any]) -> bool:
    if "anyOf" in schema:
        return all(
            _has_example(member, document)
            for member in schema["anyOf"]
            if member != {"type": "null"}
        )
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = document["components"]["schemas"][name]
    return bool(schema.get("examples") or schema.get("example"))


def test_bodies_carry_examples(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        body = operation.get("requestBody")
        if body is not None:
            [media] = body["content"].values()
            assert media.get("example") or _has_example(media["schema"], document), (method, path)
        for status, response in operation["responses"].items():
            for media in response.get("content", {}).values():
                assert media.get("example") or _has_example(media["schema"], document), (
                    method,
                    path,
                    status,
                )


def test_relink_session_create_states_delivery_goes_with_hosted(
    document: dict[str, Any],
) -> None:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(
        {
            "$ref": "#/components/schemas/RelinkSessionCreate",
            "components": document["components"],
        }
    )
    base = {"account_id": "fca_1"}
    # What the server refuses with a 422 the schema refuses too (found by schemathesis).
    assert not validator.is_valid({**base, "ui_mode": "modal", "delivery": "url"})
    assert not validator.is_valid({**base, "delivery": "url"})
    assert not validator.is_valid({**base, "ui_mode": "hosted"})
    assert validator.is_valid({**base, "ui_mode": "hosted", "delivery": "email"})
    assert validator.is_valid(base)
