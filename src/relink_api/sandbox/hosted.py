"""The hosted relink page: where a hosted session's ``url`` leads. It plays the bank's part
as the stand-in's modal does, server-rendered (no script at all), and sends the customer
back to the session's ``hosted.return_url``. See docs/sandbox.md, "Hosted page"."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import ValidationError

from relink_api.db import Connection
from relink_api.sandbox import bank_flow, store
from relink_api.sandbox.wire import StripeApiError
from relink_api.web.deps import DatabaseDep

router = APIRouter(include_in_schema=False)

STYLESHEET = Path(__file__).parent / "assets" / "hosted.css"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,128}$")
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")
_FORM_FIELDS = {"outcome", "account_id"}
_MAX_FORM_BYTES = 4096
OUTCOME_BUTTONS = {
    "link_new": ("hosted-link-new", "Link a new account", "secondary"),
    "login_failed": ("hosted-login-failed", "Fail the sign-in", "secondary"),
    "cancel": ("hosted-cancel", "Cancel", "secondary"),
}


def _form_action_source(return_url: str) -> str:
    """The CSP source that lets the form's redirect reach ``return_url`` (browsers check
    ``form-action`` against redirect targets too); empty when it cannot be named safely."""
    parts = urlsplit(return_url)
    scheme = parts.scheme.lower()
    if not _SCHEME.match(scheme):
        return ""
    if scheme not in ("http", "https"):
        return f"{scheme}:"
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        return ""
    if host and ":" in host:
        host = f"[{host}]"  # urlsplit drops an IPv6 literal's brackets; CSP needs them
    if not host or not _HOST.match(host):
        return ""
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")


def _headers(return_url: str | None = None) -> dict[str, str]:
    form_action = "'self'"
    if return_url:
        source = _form_action_source(return_url)
        if source:
            form_action += f" {source}"
    return {
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'self'; img-src 'self'; "
            f"form-action {form_action}; base-uri 'none'; frame-ancestors 'none'"
        ),
        # The page's URL is a credential for the session: never send it on as a referrer.
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "X-Robots-Tag": "noindex",
    }


def _page(
    title: str, body: str, *, status: int = 200, return_url: str | None = None
) -> HTMLResponse:
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · Sandbox bank</title>
<link rel="stylesheet" href="/sandbox/hosted.css">
</head>
<body>
<main class="card" aria-labelledby="hosted-title">
<p class="badge">Sandbox bank · simulated</p>
<h1 id="hosted-title">{escape(title)}</h1>
{body}
</main>
</body>
</html>
"""
    return HTMLResponse(html, status_code=status, headers=_headers(return_url))


def _account_label(account: dict[str, Any]) -> str:
    name = escape(account.get("display_name") or "Account")
    last4 = account.get("last4")
    if not last4:
        return name
    return (
        f'{name} <span aria-hidden="true">••</span>'
        f'<span class="visually-hidden">ending in </span>{escape(last4)}'
    )


def _bank_page(token: str, view: dict[str, Any]) -> str:
    session = view["session"]
    accounts: list[dict[str, Any]] = view["accounts"]
    institution = escape(session["institution_name"])
    wanted = session.get("relink_account")
    selectable = [account for account in accounts if account["selectable"]]
    preselected = next(
        (account["id"] for account in selectable if account["id"] == wanted),
        selectable[0]["id"] if selectable else None,
    )
    target = next((account for account in accounts if account["id"] == wanted), None)
    intro = (
        f"<p>Reconnect {_account_label(target)} to keep payments working.</p>"
        if target is not None
        else "<p>Choose one checking or savings account to connect.</p>"
    )
    action = f"/sandbox/hosted/{token}"
    options = []
    for index, account in enumerate(accounts):
        meta = escape(str(account["subcategory"]).replace("_", " "))
        if not account["selectable"]:
            meta += " · not eligible"
        input_id = f"hosted-account-{index}"
        attributes = " checked" if account["id"] == preselected else ""
        if not account["selectable"]:
            attributes += " disabled"
        options.append(
            f'<div class="option">'
            f'<input type="radio" name="account_id" id="{input_id}" '
            f'value="{escape(account["id"])}" data-testid="hosted-account"{attributes}>'
            f'<label for="{input_id}"><span class="name">{_account_label(account)}</span>'
            f'<span class="meta">{meta}</span></label></div>'
        )
    none_note = (
        "" if selectable else '<p class="muted">None of these accounts can be connected here.</p>'
    )
    others = "\n".join(
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="outcome" value="{outcome}">'
        f'<button type="submit" class="button {style}" data-testid="{test_id}">{label}</button>'
        f"</form>"
        for outcome, (test_id, label, style) in OUTCOME_BUTTONS.items()
    )
    disabled = "" if selectable else " disabled"
    return f"""{intro}
<p class="muted">This is a simulated bank for trying relink-api: no real credentials are
needed. Choose how the sign-in at {institution} goes.</p>
<form method="post" action="{escape(action)}" class="link-form">
<input type="hidden" name="outcome" value="link">
<fieldset>
<legend>Accounts at {institution}</legend>
{"".join(options)}
</fieldset>
{none_note}
<button type="submit" class="button" data-testid="hosted-link"{disabled}>
Link the selected account</button>
</form>
<div class="actions">
{others}
</div>"""


def _completed(session: dict[str, Any], *, status: int = 200) -> HTMLResponse:
    return_url = (session.get("hosted") or {}).get("return_url") or ""
    body = (
        f'<p data-testid="hosted-completed">This request has already been completed '
        f"({escape(session['status'])}). There is nothing more to do here.</p>"
    )
    if return_url:
        body += (
            f'<p><a class="button" href="{escape(return_url)}" data-testid="hosted-return">'
            "Return to where you came from</a></p>"
        )
    return _page("Already completed", body, status=status, return_url=return_url)


def _not_found() -> HTMLResponse:
    return _page(
        "Link not found",
        '<p data-testid="hosted-error">This link is not valid. Ask for a new one.</p>',
        status=404,
    )


def _bad_request(token: str, message: str) -> HTMLResponse:
    return _page(
        "Something was wrong with that choice",
        f'<p data-testid="hosted-error">{escape(message)}</p>'
        f'<p><a href="/sandbox/hosted/{escape(token)}">Go back and choose again</a></p>',
        status=400,
    )


async def _hosted_session(
    conn: Connection, token: str, *, for_update: bool = False
) -> dict[str, Any] | None:
    if not _TOKEN.match(token):
        return None
    link = await store.find(conn, type="hosted_link", lookup=token)
    if link is None:
        return None
    return await store.get(conn, link["session"], type="session", for_update=for_update)


def _choice(raw: bytes) -> bank_flow.Choice:
    """The posted form as a choice; ValueError names what is wrong with it."""
    if len(raw) > _MAX_FORM_BYTES:
        raise ValueError("The form is too large.")
    try:
        pairs = parse_qsl(raw.decode(), keep_blank_values=True, max_num_fields=len(_FORM_FIELDS))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("The form could not be read.") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name not in _FORM_FIELDS or name in fields:
            raise ValueError(f"Unexpected form field: {name[:40]}")
        fields[name] = value
    try:
        return bank_flow.Choice.model_validate(
            {"outcome": fields.get("outcome"), "account_id": fields.get("account_id") or None}
        )
    except ValidationError:
        raise ValueError("Choose one of the actions on the page.") from None


@router.get("/sandbox/hosted.css")
async def stylesheet() -> FileResponse:
    return FileResponse(
        STYLESHEET,
        media_type="text/css",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/sandbox/hosted/{token}")
async def show(token: str, db: DatabaseDep) -> HTMLResponse:
    async with db.connection() as conn:
        session = await _hosted_session(conn, token)
        if session is None:
            return _not_found()
        if session["status"] != "pending":
            return _completed(session)
        view = await bank_flow.bank_view(conn, session)
    title = f"Reconnect to {view['session']['institution_name']}"
    return _page(title, _bank_page(token, view), return_url=session["hosted"]["return_url"])


@router.post("/sandbox/hosted/{token}", response_model=None)
async def submit(token: str, request: Request, db: DatabaseDep) -> Response:
    try:
        choice = _choice(await request.body())
    except ValueError as exc:
        async with db.connection() as conn:
            known = await _hosted_session(conn, token) is not None
        return _bad_request(token, str(exc)) if known else _not_found()
    try:
        async with db.transaction() as conn:
            session = await _hosted_session(conn, token, for_update=True)
            if session is None:
                return _not_found()
            if session["status"] != "pending":
                return _completed(session, status=409)
            await bank_flow.play(conn, session, choice)
    except StripeApiError as exc:
        # Nothing was applied (the transaction rolled back): the choice itself was wrong.
        return _bad_request(token, exc.message)
    return_url: str = session["hosted"]["return_url"]
    # Exactly as given at creation: Stripe appends nothing to a hosted return_url.
    return Response(status_code=303, headers={"Location": return_url, **_headers(return_url)})
