"""``/problems/<slug>``: each problem type's URI answers a short page for the person who
follows it, from docs/problems.md (the table a unit test keeps equal to the code), which is
packaged with the wheel as it is with the repository."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from relink_api.errors import NotFound
from relink_api.web.pages import PAGE_HEADERS
from relink_api.web.problems import PROBLEM_TYPE_BASE

router = APIRouter()

_ROW = re.compile(
    r"^\| `/problems/(?P<slug>[a-z0-9-]+)` \| (?P<status>\d{3}) \| (?P<title>[^|]+) \| "
    r"(?P<when>.+?) \| (?P<what>.+?) \|$",
    re.MULTILINE,
)
_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")


@dataclass(frozen=True, slots=True)
class ProblemPage:
    """One row of docs/problems.md: what a problem type means and what to do about it."""

    slug: str
    status: int
    title: str
    when: str
    what: str


def problems_doc() -> Path | None:
    """docs/problems.md: packaged with the wheel, or the repository's."""
    packaged = Path(__file__).resolve().parents[1] / "_docs" / "problems.md"
    repository = Path(__file__).resolve().parents[3] / "docs" / "problems.md"
    return next((path for path in (packaged, repository) if path.is_file()), None)


@cache
def problem_pages() -> dict[str, ProblemPage]:
    """Every documented problem type, by slug."""
    path = problems_doc()
    if path is None:
        return {}
    return {
        row["slug"]: ProblemPage(
            row["slug"], int(row["status"]), row["title"].strip(), row["when"], row["what"]
        )
        for row in _ROW.finditer(path.read_text(encoding="utf-8"))
    }


def _inline(markdown: str) -> str:
    """The table cell's text as HTML: escaped, code spans kept, links as their text."""
    text = html.escape(_LINK.sub(r"\1", markdown), quote=False)
    return _CODE.sub(r"<code>\1</code>", text)


def _render(page: ProblemPage) -> str:
    title = html.escape(page.title, quote=False)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title} · relink-api problem types</title>"
        '<link rel="stylesheet" href="/static/app.css"><link rel="icon" href="/favicon.ico">'
        f"</head><body><main><h1>{title}</h1>"
        f"<p><code>{PROBLEM_TYPE_BASE}{page.slug}</code> · HTTP {page.status}</p>"
        f"<h2>When</h2><p>{_inline(page.when)}</p>"
        f"<h2>What to do</h2><p>{_inline(page.what)}</p>"
        "<p>Every error relink-api returns is an RFC 9457 problem document "
        "(<code>application/problem+json</code>); branch on its <code>type</code>, never on "
        "its <code>title</code> or <code>detail</code>. The API reference: "
        '<a href="/docs">/docs</a>.</p></main></body></html>'
    )


@router.get(PROBLEM_TYPE_BASE + "{slug}", include_in_schema=False)
async def problem_page(slug: str) -> HTMLResponse:
    """The page a problem document's ``type`` leads to."""
    page = problem_pages().get(slug)
    if page is None:
        raise NotFound(f"No problem type {slug}.")
    return HTMLResponse(_render(page), headers=PAGE_HEADERS)
