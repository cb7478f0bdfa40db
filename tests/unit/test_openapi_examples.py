"""Every example in the OpenAPI document is valid against the schema it illustrates: mock
servers, documentation and generators serve these as bodies. Checked for the committed
document and for the one the app renders now, each example by its JSON pointer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from relink_api.cli.openapi import render_openapi

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
BASE_URI = "urn:relink-api:openapi"

# Keywords whose value is one schema, or a list or map of schemas (JSON Schema 2020-12).
SCHEMA_KEYWORDS = ("items", "not", "if", "then", "else", "contains", "additionalProperties")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
# Where an OpenAPI object holds a map of media types, each with a schema and examples.
OPERATION_PARTS = ("parameters", "requestBody", "responses")


def pointer(*parts: str | int) -> str:
    """A JSON pointer (RFC 6901) to these parts."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def schema_examples(schema: Any, at: str) -> Iterator[tuple[str, str, Any]]:
    """(example location, pointer of its schema, example) for a schema and its subschemas."""
    if not isinstance(schema, dict):
        return
    for index, example in enumerate(schema.get("examples", [])):
        yield f"{at}/examples/{index}", at, example
    if "example" in schema:
        yield f"{at}/example", at, schema["example"]
    for keyword in SCHEMA_KEYWORDS:
        yield from schema_examples(schema.get(keyword), f"{at}{pointer(keyword)}")
    for keyword in SCHEMA_LISTS:
        for index, subschema in enumerate(schema.get(keyword, [])):
            yield from schema_examples(subschema, f"{at}{pointer(keyword, index)}")
    for keyword in SCHEMA_MAPS:
        for name, subschema in schema.get(keyword, {}).items():
            yield from schema_examples(subschema, f"{at}{pointer(keyword, name)}")


def media_examples(holder: dict[str, Any], at: str) -> Iterator[tuple[str, str, Any]]:
    """Examples of a parameter, header or media type object (``example``, ``examples``) and of
    its schema."""
    if "schema" not in holder:
        return
    schema_at = f"{at}/schema"
    yield from schema_examples(holder["schema"], schema_at)
    if "example" in holder:
        yield f"{at}/example", schema_at, holder["example"]
    for name, example in holder.get("examples", {}).items():
        assert "$ref" not in example, f"{at}: resolve example references before checking them"
        if "value" in example:
            yield f"{at}{pointer('examples', name, 'value')}", schema_at, example["value"]


def response_examples(response: dict[str, Any], at: str) -> Iterator[tuple[str, str, Any]]:
    for media_type, media in response.get("content", {}).items():
        yield from media_examples(media, f"{at}{pointer('content', media_type)}")
    for name, header in response.get("headers", {}).items():
        yield from media_examples(header, f"{at}{pointer('headers', name)}")


def document_examples(document: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """Every example in the document: in component schemas and in operations' parameters,
    request bodies, responses (problem responses included) and response headers."""
    components = document.get("components", {})
    for name, schema in components.get("schemas", {}).items():
        yield from schema_examples(schema, pointer("components", "schemas", name))
    for name, response in components.get("responses", {}).items():
        yield from response_examples(response, pointer("components", "responses", name))
    for path, item in document["paths"].items():
        for method, operation in item.items():
            at = pointer("paths", path, method)
            for index, parameter in enumerate(operation.get("parameters", [])):
                yield from media_examples(parameter, f"{at}{pointer('parameters', index)}")
            for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
                yield from media_examples(
                    media, f"{at}{pointer('requestBody', 'content', media_type)}"
                )
            for status, response in operation.get("responses", {}).items():
                yield from response_examples(response, f"{at}{pointer('responses', status)}")


@cache
def document(name: str) -> dict[str, Any]:
    text = COMMITTED.read_text() if name == "committed" else render_openapi()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def registry(name: str) -> Registry[Any]:
    """The document as one resource, so a schema's ``#/components/...`` refs resolve."""
    resource: Resource[Any] = Resource.from_contents(
        document(name), default_specification=DRAFT202012
    )
    documents: Registry[Any] = Registry().with_resource(BASE_URI, resource)
    return documents


def cases() -> Iterator[Any]:
    for name in ("committed", "rendered"):
        for location, schema_at, example in document_examples(document(name)):
            yield pytest.param(name, schema_at, example, id=f"{name}:{location}")


CASES = list(cases())


def test_the_document_has_examples_of_every_kind() -> None:
    # The walk above finds what it should: an empty or shrunken walk would pass vacuously.
    locations = [case.id for case in CASES if case.id.startswith("rendered:")]
    assert any("/components/schemas/AccountRead/examples/0" in loc for loc in locations)
    assert any("/properties/customer_id/examples/0" in loc for loc in locations)
    assert any("/parameters/" in loc and "/schema/examples/" in loc for loc in locations)
    assert any("application~1problem+json/example" in loc for loc in locations)
    assert any("application~1json/example" in loc for loc in locations)


@pytest.mark.parametrize(("name", "schema_at", "example"), CASES)
def test_example_is_valid_against_its_schema(name: str, schema_at: str, example: Any) -> None:
    validator = Draft202012Validator(
        {"$ref": f"{BASE_URI}#{schema_at}"},
        registry=registry(name),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    errors = sorted(validator.iter_errors(example), key=lambda error: list(error.path))
    if errors:
        pytest.fail(
            "\n".join(
                f"at {'/'.join(map(str, error.path)) or '(the example)'}: {error.message}"
                for error in errors
            )
        )
