"""``/relink/return``: where every hosted relink ends.

Stripe's hosted page sends the customer here; the session is completed server-side, from
Stripe's copy, exactly as the modal flow's ``complete`` does. Then the customer sees the
outcome, or is forwarded to the client's allowlisted ``return_url`` (an app scheme closes
the in-app browser) with the session id and outcome appended.
"""

from __future__ import annotations

import html
import logging
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relink_api.accounts import service as accounts_service
from relink_api.accounts.models import AccountRow
from relink_api.db import Database
from relink_api.errors import NotFound, ProblemError
from relink_api.ratelimit import service as ratelimit
from relink_api.redirects import is_allowed_return_url
from relink_api.relink import service
from relink_api.relink.creation import RETURN_PATH
from relink_api.relink.errors import RelinkSessionPending
from relink_api.relink.models import RelinkSessionRow
from relink_api.relink.schemas import Delivery, FailureReason, NextStep, RelinkOutcome
from relink_api.web.deps import DatabaseDep, SettingsDep, StripeDep, client_address
from relink_api.web.pages import PAGE_HEADERS

logger = logging.getLogger(__name__)

router = APIRouter()

# What happened, per outcome; what to do next depends on where the customer came from.
_MESSAGES: dict[tuple[RelinkOutcome | None, FailureReason | None], tuple[str, str]] = {
    (RelinkOutcome.relinked, None): (
        "Your bank account is reconnected",
        "Everything is working again.",
    ),
    (RelinkOutcome.new_account, None): (
        "You linked a different account",
        "Payments from the new account still need to be set up.",
    ),
    (RelinkOutcome.failed, FailureReason.no_account): (
        "The account was not linked",
        "You signed in to your bank, but the account we needed was not chosen.",
    ),
    (RelinkOutcome.failed, FailureReason.no_authorization): (
        "We could not reconnect to your bank",
        "Signing in to your bank did not finish.",
    ),
    (RelinkOutcome.failed, FailureReason.other): (
        "Something went wrong",
        "The bank connection did not finish.",
    ),
    (RelinkOutcome.cancelled, None): (
        "Nothing was changed",
        "You closed the bank connection before finishing.",
    ),
}
# An app that sent the customer here is still open behind this page; an email has no app
# behind it, and its link is used up once the bank connection ends.
_NEXT_IN_APP = {
    RelinkOutcome.relinked: "You can close this page.",
    RelinkOutcome.new_account: "Go back to the app to set them up.",
}
_NEXT_FROM_EMAIL = {
    RelinkOutcome.relinked: "You can close this tab.",
    RelinkOutcome.new_account: "You can close this tab.",
}
_RETRY_IN_APP = "Go back to the app to try again."
_RETRY_FROM_EMAIL = (
    "You can close this tab. To try again you need a new link: this one has been used."
)


def _came_from_app(row: RelinkSessionRow) -> bool:
    return row.delivery is not Delivery.email and row.return_url is not None


def _words(row: RelinkSessionRow) -> tuple[str, str]:
    """The page's title and what it says, for the session's outcome and where it came from."""
    outcome = row.outcome
    if row.next_step is NextStep.set_up_payment_method and outcome is not RelinkOutcome.failed:
        # Another account stood in for one that cannot come back: it is not done yet.
        outcome = RelinkOutcome.new_account
    key = (outcome, row.failure_reason if outcome is RelinkOutcome.failed else None)
    if key not in _MESSAGES:
        outcome, key = RelinkOutcome.failed, (RelinkOutcome.failed, FailureReason.other)
    title, said = _MESSAGES[key]
    in_app = _came_from_app(row)
    done = _NEXT_IN_APP if in_app else _NEXT_FROM_EMAIL
    retry = _RETRY_IN_APP if in_app else _RETRY_FROM_EMAIL
    return title, f"{said} {done.get(outcome, retry) if outcome else retry}"


def _account_item(account: AccountRow) -> str:
    """A list item such as Everyday Checking ••6789 at Sandbox Bank, which a screen reader
    hears as "Everyday Checking ending in 6789 at Sandbox Bank"."""
    name = html.escape(account.display_name or "Bank account")
    if account.last4:
        name += (
            ' <span aria-hidden="true">••</span>'
            f'<span class="visually-hidden">ending in </span>{html.escape(account.last4)}'
        )
    if account.institution_name:
        name += f" at {html.escape(account.institution_name)}"
    return f"<li>{name}</li>"


async def _reactivated(db: Database, row: RelinkSessionRow) -> str:
    """The list of the session's accounts that work again, as HTML (names are escaped)."""
    if row.outcome is not RelinkOutcome.relinked or not row.reactivated_account_ids:
        return ""
    found = [await accounts_service.find(db, account_id=id) for id in row.reactivated_account_ids]
    items = [
        _account_item(account)
        for account in found
        if account is not None and account.customer_id == row.customer_id
    ]
    if not items:
        return ""
    return (
        '<p id="reactivated-label">These accounts work again:</p>\n'
        '      <ul class="outcome__accounts" aria-labelledby="reactivated-label"'
        f' data-testid="return-accounts">{"".join(items)}</ul>'
    )


def _page(
    title: str,
    body: str,
    *,
    status_code: int,
    outcome: str | None = None,
    accounts: str = "",
) -> HTMLResponse:
    data = f' data-outcome="{html.escape(outcome)}"' if outcome else ""
    document = f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="referrer" content="no-referrer">
    <title>{html.escape(title)}</title>
    <link rel="stylesheet" href="/static/app.css">
  </head>
  <body>
    <main id="main">
      <h1 data-testid="return-title"{data}>{html.escape(title)}</h1>
      <p data-testid="return-detail">{html.escape(body)}</p>
      {accounts}
    </main>
  </body>
</html>
"""
    return HTMLResponse(document, status_code=status_code, headers=PAGE_HEADERS)


def forward_url(return_url: str, row: RelinkSessionRow) -> str:
    """The client's return URL with our session id, its outcome and next step added."""
    parts = urlsplit(return_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [
        ("relink_session", row.id),
        ("outcome", row.outcome.value if row.outcome else ""),
        ("next_step", row.next_step.value if row.next_step else ""),
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _invalid_link() -> HTMLResponse:
    return _page(
        "This link is not valid",
        "Start again from the app or the email you received.",
        status_code=404,
    )


@router.get(RETURN_PATH, include_in_schema=False)
async def relink_return(
    request: Request,
    db: DatabaseDep,
    stripe: StripeDep,
    settings: SettingsDep,
    session: Annotated[str, Query(min_length=1, max_length=64)],
    state: Annotated[str, Query(min_length=1, max_length=128)],
) -> Response:
    # Guessing a session's state token is throttled per address: every visit takes a turn
    # before the token is checked (so concurrent guesses cannot slip past the count), and a
    # visit whose link matched gives it back.
    throttle = f"relink-return:{client_address(request)}"
    rate = ratelimit.guess_rate(settings)
    decision = await ratelimit.check(db, key=throttle, rate=rate)
    if not decision.allowed:
        response = _page(
            "Too many attempts",
            "Too many links that did not match were opened from here. Wait a minute, then "
            "open the link from the app or the email again.",
            status_code=429,
        )
        response.headers["Retry-After"] = ratelimit.retry_after(decision.wait)
        return response
    matched = True
    try:
        row = await service.complete_from_return(db, stripe, session_id=session, state=state)
    except NotFound:
        # An unknown session or a wrong token (the service tells them apart for no one):
        # this visit keeps its turn.
        matched = False
        return _invalid_link()
    except RelinkSessionPending:
        return _page(
            "Still finishing with your bank",
            "Your bank has not told us the result yet. Reload this page in a moment.",
            status_code=202,
        )
    except ProblemError as exc:
        if exc.status == 404:
            return _invalid_link()  # Stripe no longer knows the session: not a guess
        logger.warning("hosted return for %s failed: %s", session, exc.slug)
        return _page(
            "We could not check the result yet",
            "Reload this page in a moment; nothing you did was lost.",
            status_code=exc.status,
        )
    finally:
        if matched:
            await ratelimit.give_back(db, key=throttle, rate=rate)
    # Re-checked now, not only at creation: the allowlist may have been narrowed since.
    if row.return_url and is_allowed_return_url(row.return_url, settings.return_url_allowlist):
        return RedirectResponse(
            forward_url(row.return_url, row),
            status_code=303,
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )
    title, body = _words(row)
    return _page(
        title,
        body,
        status_code=200,
        outcome=row.outcome.value if row.outcome else None,
        accounts=await _reactivated(db, row),
    )
