"""Every `Retry-After` the service sends is declared in the document: on each 429, 502 and
503 (always sent), and on the 409 of each create that takes an `Idempotency-Key` (sent with
`idempotency-key-in-use`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relink_api.web.problems import problem_response

DOCUMENT = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
ALWAYS = ("429", "502", "503")


def _operations() -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in json.loads(DOCUMENT.read_text())["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def _retry_after(response: dict[str, Any]) -> dict[str, Any] | None:
    header: dict[str, Any] | None = response.get("headers", {}).get("Retry-After")
    return header


def test_every_429_502_and_503_declares_a_required_retry_after() -> None:
    undeclared = [
        f"{name} {status}"
        for name, operation in _operations()
        for status in ALWAYS
        if status in operation["responses"]
        and not (_retry_after(operation["responses"][status]) or {}).get("required")
    ]
    assert undeclared == []


def test_the_409_of_every_idempotent_create_declares_retry_after() -> None:
    idempotent = {
        name: operation
        for name, operation in _operations()
        if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    }
    assert len(idempotent) >= 3, "the creates take Idempotency-Key"
    undeclared = [
        name
        for name, operation in idempotent.items()
        if _retry_after(operation["responses"]["409"]) is None
    ]
    assert undeclared == []


@pytest.mark.parametrize("status", [502, 503])
def test_a_problem_that_must_carry_retry_after_gets_one(status: int) -> None:
    response = problem_response(
        status=status, slug="service-unavailable", title="t", detail="d", instance="/x"
    )
    assert int(response.headers["Retry-After"]) >= 1


def test_a_retry_after_given_is_kept() -> None:
    response = problem_response(
        status=503,
        slug="service-unavailable",
        title="t",
        detail="d",
        instance="/x",
        headers={"retry-after": "30"},
    )
    assert response.headers.getlist("retry-after") == ["30"]
