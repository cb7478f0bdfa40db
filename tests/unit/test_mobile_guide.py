"""docs/mobile.md works as written: a section per platform with the Stripe SDK calls it needs,
the warnings a mobile developer must not miss, links that resolve, and HTTP examples that
match the committed OpenAPI document."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from relink_api.relink.creation import RETURN_PATH

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "mobile.md"
DOCUMENT_URI = "urn:relink-api:openapi"

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$", re.MULTILINE)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_REQUEST_LINE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) (/\S*)$")
_STATUS_LINE = re.compile(r"^(\d{3}) [A-Za-z ]+$")
_HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*): .+$")


def _guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


@cache
def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    return document


def _prose(text: str) -> str:
    """The text with every fenced block blanked (offsets kept), so a `# comment` in code is no
    heading."""
    return _FENCE.sub(lambda match: re.sub(r"[^\n]", " ", match.group(0)), text)


def _slug(title: str) -> str:
    """The anchor GitHub gives a heading."""
    title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", title).replace(" ", "-")


def _anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for match in _HEADING.finditer(_prose(text)):
        slug = _slug(match.group(2))
        anchors.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _section(text: str, title: str) -> str:
    """From the `## title` heading to the next heading of level 2 or above."""
    prose = _prose(text)
    start = re.search(rf"^## {re.escape(title)}$", prose, re.MULTILINE)
    assert start, f"docs/mobile.md has no '## {title}' section"
    end = re.compile(r"^#{1,2} ", re.MULTILINE).search(prose, start.end())
    return text[start.start() : end.start() if end else len(text)]


def _code(text: str, language: str) -> str:
    return "\n".join(body for lang, body in _FENCE.findall(text) if lang == language)


def _paragraphs(text: str) -> list[str]:
    return [" ".join(part.split()) for part in re.split(r"\n\s*\n", _prose(text))]


# --- A section per platform, with the calls that make it work ---------------------------

PLATFORM_CALLS = {
    ("iOS", "swift"): [
        "STPAPIClient.shared.publishableKey =",
        "FinancialConnectionsSheet(",
        "financialConnectionsSessionClientSecret:",
        "returnURL:",
        ".present(from:",
        "StripeAPI.handleURLCallback(with:",
        "STPSetupIntentConfirmParams(",
        "paymentMethodType: .USBankAccount",
        "STPPaymentHandler.shared().confirmSetupIntent(",
        "ASWebAuthenticationSession(",
    ],
    ("Android", "kotlin"): [
        "FinancialConnectionsSheet.create(",
        "FinancialConnectionsSheet.Configuration(",
        "financialConnectionsSessionClientSecret =",
        "publishableKey =",
        "PaymentLauncher.create(",
        "ConfirmSetupIntentParams.create(",
        "PaymentMethod.Type.USBankAccount",
        "paymentLauncher.confirm(",
        "CustomTabsIntent",
    ],
    ("Android", "xml"): [
        "android.intent.action.VIEW",
        "android.intent.category.BROWSABLE",
        'android:scheme="exampleapp"',
    ],
    ("React Native", "ts"): [
        "initStripe(",
        "publishableKey:",
        "urlScheme:",
        "handleURLCallback(",
        "collectFinancialConnectionsAccounts(",
        "confirmSetupIntent(",
        "paymentMethodType: 'USBankAccount'",
    ],
}


@pytest.mark.parametrize(("platform", "language"), sorted(PLATFORM_CALLS))
def test_each_platform_section_makes_the_calls(platform: str, language: str) -> None:
    code = _code(_section(_guide(), platform), language)
    missing = [call for call in PLATFORM_CALLS[platform, language] if call not in code]
    assert not missing, f"'## {platform}' ({language}) lacks {missing}"


def test_ios_sets_the_publishable_key_before_presenting() -> None:
    code = _code(_section(_guide(), "iOS"), "swift")
    key_set = code.find("STPAPIClient.shared.publishableKey =")
    assert -1 < key_set < code.find(".present(from:")


def test_android_creates_the_sheet_during_initialization() -> None:
    # A property initializer runs on every creation of the Activity, before it starts; the
    # SDK's KDoc asks for exactly that, and registering later throws.
    section = _section(_guide(), "Android")
    creations = [line for line in _code(section, "kotlin").splitlines() if ".create(" in line]
    sheet = [line for line in creations if "FinancialConnectionsSheet.create(" in line]
    assert sheet, "no FinancialConnectionsSheet.create in the Android section"
    for line in sheet:
        assert re.match(r"\s*(private )?val \w+ = FinancialConnectionsSheet\.create\(", line), line
    assert "unconditionally" in " ".join(section.split())


# --- Warnings ---------------------------------------------------------------------------


def _has_paragraph(text: str, *needles: str) -> bool:
    return any(all(n.lower() in p.lower() for n in needles) for p in _paragraphs(text))


def test_warns_against_collect_bank_account_for_setup() -> None:
    assert _has_paragraph(_guide(), "Do not call `collectBankAccountForSetup`", "new link")


def test_react_native_keeps_the_sessions_client_secret_to_itself() -> None:
    section = _section(_guide(), "React Native")
    assert _has_paragraph(section, "`clientSecret`", "not forward or log", "complete")


def test_says_the_sessions_return_url_is_for_webviews_only() -> None:
    assert _has_paragraph(
        _guide(), "`return_url` is for webview integrations only", "should not send it"
    )


def test_says_what_is_not_confirmed() -> None:
    section = _section(_guide(), "What is not confirmed")
    for needle in ("only for Stripe.js", "`relink_options`", "unconfirmed", "safe path"):
        assert needle in " ".join(section.split()), needle
    assert _has_paragraph(section, "relink", "preview")
    assert _has_paragraph(section, "hosted relink", "gated preview", "requested from Stripe")


def test_says_what_to_do_until_stripe_enables_hosted_relink() -> None:
    section = _section(_guide(), "What is not confirmed")
    assert _has_paragraph(
        section,
        "gated preview",
        "`501 /problems/hosted-relink-not-enabled`",
        '`ui_mode: "modal"`',
        "Stripe Dashboard",
        "test mode",
    )
    hosted = _section(_guide(), 'Hosted page (`delivery: "url"`)')
    assert _has_paragraph(hosted, "`501 /problems/hosted-relink-not-enabled`")


# --- Links ------------------------------------------------------------------------------


def test_every_relative_link_resolves() -> None:
    text = _guide()
    links = _LINK.findall(_prose(text))
    assert links
    for target in links:
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (GUIDE.parent / path).resolve() if path else GUIDE
        assert linked.is_file(), f"{target}: no such file"
        assert ROOT in linked.parents, f"{target}: outside the repository"
        if anchor:
            assert anchor in _anchors(linked.read_text(encoding="utf-8")), f"{target}: no heading"


# --- HTTP examples against openapi/openapi.json -----------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: list[str] = field(default_factory=list)
    body: str = ""


@dataclass
class Response:
    request: Request
    status: str
    headers: list[str]
    body: str


def _split_message(lines: list[str]) -> tuple[list[str], str]:
    """Header names, then the body, of an HTTP message after its first line."""
    headers = []
    while lines and _HEADER_LINE.match(lines[0]):
        headers.append(lines.pop(0).split(":", 1)[0])
    return headers, "\n".join(lines).strip()


def _exchanges() -> tuple[list[Request], list[Response], list[str]]:
    """The guide's requests, the responses shown after them, and JSON shown on its own."""
    requests: list[Request] = []
    responses: list[Response] = []
    loose: list[str] = []
    for language, body in _FENCE.findall(_guide()):
        lines = body.strip().splitlines()
        if language == "http" and _REQUEST_LINE.match(lines[0]):
            for chunk in re.split(r"\n(?=(?:GET|POST|PUT|PATCH|DELETE) /)", body.strip()):
                first, *rest = chunk.strip().splitlines()
                method, path = first.split(" ", 1)
                headers, content = _split_message(rest)
                requests.append(Request(method, path, headers, content))
        elif language == "json" and _STATUS_LINE.match(lines[0]):
            assert requests, "a response before any request"
            headers, content = _split_message(lines[1:])
            status = lines[0].split()[0]
            responses.append(Response(requests[-1], status, headers, content))
        elif language == "json":
            loose.append(body)
    return requests, responses, loose


def _operation(request: Request) -> dict[str, Any] | None:
    path = request.path.split("?", 1)[0]
    for template, operations in _document()["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and request.method.lower() in operations:
            operation: dict[str, Any] = operations[request.method.lower()]
            return operation
    return None


def _validator(schema: dict[str, Any]) -> Any:
    """A validator for a schema out of the document, its `#/components/...` refs resolved."""
    resource = Resource.from_contents(_document(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)
    return Draft202012Validator(_rebase(schema), registry=registry)


def _rebase(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: DOCUMENT_URI + value if key == "$ref" and value.startswith("#") else _rebase(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rebase(item) for item in node]
    return node


def _errors(schema: dict[str, Any], body: str) -> list[str]:
    instance = json.loads(body)
    return [error.message for error in _validator(schema).iter_errors(instance)]


def test_the_guide_shows_the_whole_flow() -> None:
    requests, responses, _ = _exchanges()
    shown = {operation["operationId"] for r in requests if (operation := _operation(r))}
    assert shown >= {
        "createRelinkSession",
        "completeRelinkSession",
        "getRelinkSession",
        "createRelinkPaymentMethod",
        "completeRelinkPaymentMethod",
    }
    assert len(responses) >= 6


def test_every_request_is_an_operation_with_a_valid_body() -> None:
    for request in _exchanges()[0]:
        where = f"{request.method} {request.path}"
        operation = _operation(request)
        if operation is None:
            # The one page of relink-api's that is not in the API document.
            assert request.path.split("?", 1)[0] == RETURN_PATH, f"{where}: no such operation"
            continue
        declared = {
            p["name"].lower() for p in operation.get("parameters", []) if p["in"] == "header"
        }
        assert {h.lower() for h in request.headers} <= declared, f"{where}: undeclared header"
        request_body = operation.get("requestBody")
        if not request.body:
            assert not (request_body or {}).get("required"), f"{where}: the body is required"
            continue
        assert request_body, f"{where} takes no body"
        schema = request_body["content"]["application/json"]["schema"]
        assert not _errors(schema, request.body), (where, _errors(schema, request.body))


def test_every_response_matches_its_operation() -> None:
    for response in _exchanges()[1]:
        operation = _operation(response.request)
        where = f"{response.request.method} {response.request.path} → {response.status}"
        assert operation, f"{where}: no such operation"
        declared = operation["responses"].get(response.status)
        assert declared, f"{where}: status not declared"
        assert {h.lower() for h in response.headers} <= {
            name.lower() for name in declared.get("headers", {})
        }, f"{where}: undeclared header"
        schema = declared["content"]["application/json"]["schema"]
        assert not _errors(schema, response.body), (where, _errors(schema, response.body))


def test_loose_json_parses() -> None:
    for body in _exchanges()[2]:
        json.loads(body)


def test_no_native_sheet_session_is_created_with_a_return_url() -> None:
    # The session's return_url is for Stripe.js in a webview; native sheets return by their own
    # mechanism, so a modal create in this guide never carries one.
    creates = [
        json.loads(r.body)
        for r in _exchanges()[0]
        if r.body and (op := _operation(r)) and op["operationId"] == "createRelinkSession"
    ]
    modal = [body for body in creates if body.get("ui_mode", "modal") == "modal"]
    assert modal, "no native-sheet create in the guide"
    assert all("return_url" not in body for body in modal), modal
