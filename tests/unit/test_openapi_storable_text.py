"""Every string a client sends (body, path, query) says in the document what it may hold:
PostgreSQL text cannot store NUL, and a generator or a fuzzer that is not told so sends
values the server must refuse. Opaque cursors (any value the server did not issue is a 400)
and Stripe's signed webhook are the only exceptions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DOCUMENT = json.loads(
    (Path(__file__).resolve().parents[2] / "openapi" / "openapi.json").read_text()
)
SCHEMAS = DOCUMENT["components"]["schemas"]
EXEMPT_OPERATIONS = {"receiveStripeWebhook"}
EXEMPT_PARAMETERS = {"cursor"}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _free_strings(schema: dict[str, Any], where: str) -> Iterator[str]:
    schema = _resolve(schema)
    for key in ("oneOf", "anyOf", "allOf"):
        for variant in schema.get(key, []):
            yield from _free_strings(variant, where)
    if schema.get("type") == "string" and not {"enum", "const", "pattern"} & set(schema):
        yield where
    for name, prop in schema.get("properties", {}).items():
        yield from _free_strings(prop, f"{where}.{name}")
    if "items" in schema:
        yield from _free_strings(schema["items"], f"{where}[]")


def _client_strings() -> Iterator[str]:
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if operation["operationId"] in EXEMPT_OPERATIONS:
                continue
            where = f"{method.upper()} {path}"
            for content in operation.get("requestBody", {}).get("content", {}).values():
                yield from _free_strings(content["schema"], where)
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("path", "query") and (
                    parameter["name"] not in EXEMPT_PARAMETERS
                ):
                    yield from _free_strings(parameter["schema"], f"{where} {parameter['name']}")


def test_every_string_a_client_sends_has_a_pattern() -> None:
    assert list(_client_strings()) == []
