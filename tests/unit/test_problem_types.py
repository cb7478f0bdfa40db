"""docs/problems.md lists exactly the problem types the code can answer with: every
``ProblemError`` subclass in relink_api and the types the handlers render without one
(404, 405, 500), each with its status; and nothing the code never raises."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import relink_api
from relink_api.app import create_app
from relink_api.errors import ProblemError
from relink_api.settings import Settings
from relink_api.web.problems import PROBLEM_TYPE_BASE

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS_DOC = ROOT / "docs" / "problems.md"
OPENAPI_DOCUMENT = ROOT / "openapi" / "openapi.json"


def _documented() -> dict[str, int]:
    return {
        slug: int(status)
        for slug, status in re.findall(
            r"^\| `/problems/([a-z0-9-]+)` \| (\d{3}) \|", PROBLEMS_DOC.read_text(), re.M
        )
    }


def _subclasses(cls: type[ProblemError]) -> Iterator[type[ProblemError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _problem_classes() -> list[type[ProblemError]]:
    # Every module, so that no type is missed for not having been imported yet.
    for module in pkgutil.walk_packages(relink_api.__path__, "relink_api."):
        if not module.name.endswith(".__main__"):  # that one runs the command line
            importlib.import_module(module.name)
    return [ProblemError, *_subclasses(ProblemError)]


async def _rendered_by_the_handlers() -> dict[str, int]:
    """The types the app answers with when no ProblemError was raised: no such route, and
    a route without that method."""
    app = create_app(Settings.model_construct())
    transport = httpx.ASGITransport(app=app)
    rendered: dict[str, int] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for method, path in (("GET", "/no-such-route"), ("DELETE", "/healthz")):
            response = await client.request(method, path)
            problem = response.json()
            assert response.status_code == problem["status"]
            rendered[problem["type"].removeprefix(PROBLEM_TYPE_BASE)] = problem["status"]
    return rendered


def test_every_problem_type_has_a_slug_of_its_own() -> None:
    by_slug: dict[str, list[str]] = {}
    for cls in _problem_classes():
        by_slug.setdefault(cls.slug, []).append(f"{cls.__module__}.{cls.__qualname__}")
    assert {slug: names for slug, names in by_slug.items() if len(names) > 1} == {}


async def test_docs_list_exactly_the_problem_types_the_code_answers_with() -> None:
    raised = {cls.slug: cls.status for cls in _problem_classes()}
    answered = {**raised, **await _rendered_by_the_handlers()}
    documented = _documented()
    undocumented = {slug: status for slug, status in answered.items() if slug not in documented}
    never_raised = {slug: status for slug, status in documented.items() if slug not in answered}
    assert undocumented == {}, "add these to docs/problems.md"
    assert never_raised == {}, "docs/problems.md lists types no code raises"
    assert {slug: documented[slug] for slug in answered} == answered, "statuses differ"


@pytest.mark.parametrize(
    ("slug", "status"),
    [
        ("idempotency-key-invalid", 400),
        ("idempotency-key-in-use", 409),
        ("idempotency-key-reused", 422),
    ],
)
def test_the_idempotency_types_are_documented(slug: str, status: int) -> None:
    assert _documented()[slug] == status


def test_the_document_enumerates_exactly_the_documented_types() -> None:
    # Clients switch on `type` exhaustively: the committed document's enum is the list
    # docs/problems.md has, so a type added to one and not the other fails here.
    document = json.loads(OPENAPI_DOCUMENT.read_text())
    assert document["components"]["schemas"]["Problem"]["properties"]["type"] == {
        "$ref": "#/components/schemas/ProblemType"
    }
    enumerated = document["components"]["schemas"]["ProblemType"]["enum"]
    assert len(enumerated) == len(set(enumerated))
    assert sorted(enumerated) == sorted(PROBLEM_TYPE_BASE + slug for slug in _documented())
