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

from relink_api.errors import NotFound, ProblemError
from relink_api.ratelimit import service as ratelimit
from relink_api.redirects import is_allowed_return_url
from relink_api.relink import service
from relink_api.relink.creation import RETURN_PATH
from relink_api.relink.errors import RelinkSessionPending
from relink_api.relink.models import RelinkSessionRow
from relink_api.relink.schemas import FailureReason, NextStep, RelinkOutcome
from relink_api.web.deps import DatabaseDep, SettingsDep, StripeDep, client_address
from relink_api.web.pages import PAGE_HEADERS

logger = logging.getLogger(__name__)

router = APIRouter()

_MESSAGES: dict[tuple[RelinkOutcome | None, FailureReason | None], tuple[str, str]] = {
    (RelinkOutcome.relinked, None): (
        "Your bank account is reconnected",
        "Everything is working again. You can close this page.",
    ),
    (RelinkOutcome.new_account, None): (
        "You linked a different account",
        "One more step: set up payments from the new account in the app.",
    ),
    (RelinkOutcome.failed, FailureReason.no_account): (
        "The account was not linked",
        "You signed in to your bank, but the account we needed was not chosen. "
        "Go back to the app to try another way.",
    ),
    (RelinkOutcome.failed, FailureReason.no_authorization): (
        "We could not reconnect to your bank",
        "Signing in to your bank did not finish. Go back to the app to try again.",
    ),
    (RelinkOutcome.failed, FailureReason.other): (
        "Something went wrong",
        "The bank connection did not finish. Go back to the app to try again.",
    ),
    (RelinkOutcome.cancelled, None): (
        "Nothing was changed",
        "You closed the bank connection before finishing. Go back to the app to try again.",
    ),
}


def _page(title: str, body: str, *, status_code: int, outcome: str | None = None) -> HTMLResponse:
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
    if row.next_step is NextStep.set_up_payment_method and row.outcome is not RelinkOutcome.failed:
        # Another account stood in for one that cannot come back: it is not done yet.
        title, body = _MESSAGES[(RelinkOutcome.new_account, None)]
    else:
        title, body = _MESSAGES.get(
            (row.outcome, row.failure_reason),
            _MESSAGES[(RelinkOutcome.failed, FailureReason.other)],
        )
    return _page(title, body, status_code=200, outcome=row.outcome.value if row.outcome else None)
