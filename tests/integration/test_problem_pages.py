"""Each problem type's URI answers a page for the person who follows it: its title, when it
happens and what to do, from docs/problems.md, as the wheel packages it."""

from __future__ import annotations

import html
import tomllib
from pathlib import Path

import httpx
import pytest

from relink_api.errors import problem_types
from relink_api.web.problem_pages import problem_pages, problems_doc
from tests.support import assert_problem

ROOT = Path(__file__).resolve().parents[2]


def test_every_problem_type_the_code_answers_with_has_a_page() -> None:
    pages = problem_pages()
    assert {cls.slug for cls in problem_types()} <= set(pages)
    for cls in problem_types():
        page = pages[cls.slug]
        assert (page.status, page.title) == (cls.status, cls.title), cls.slug


def test_the_wheel_packages_the_document_where_the_pages_look() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    included = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert included["docs/problems.md"] == "relink_api/_docs/problems.md"
    assert problems_doc() == ROOT / "docs" / "problems.md"  # the repository's, here


@pytest.mark.parametrize("slug", sorted(problem_pages()))
async def test_a_problem_page_says_what_happened_and_what_to_do(
    client: httpx.AsyncClient, slug: str
) -> None:
    response = await client.get(f"/problems/{slug}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src" in response.headers["content-security-policy"]
    page = problem_pages()[slug]
    assert f"<h1>{html.escape(page.title, quote=False)}</h1>" in response.text
    assert f"HTTP {page.status}" in response.text
    assert "<h2>What to do</h2>" in response.text
    assert "<script" not in response.text


async def test_the_type_of_a_problem_leads_to_its_page(client: httpx.AsyncClient) -> None:
    problem = assert_problem(await client.get("/v1/accounts"), 401, "unauthorized")

    page = await client.get(problem["type"])

    assert page.status_code == 200
    assert f"<h1>{problem['title']}</h1>" in page.text


async def test_an_unknown_problem_type_is_a_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/problems/no-such-thing"), 404, "not-found")
