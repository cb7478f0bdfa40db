"""The sandbox receiver's routes: where relink-api delivers, and the page listing what
arrived (``Receiver`` holds the secrets and the deliveries)."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from relink_api.sandbox.access import local_or_operator
from relink_api.sandbox.receiver import RECEIVER_PATH, Received, Receiver
from relink_api.web.pages import PAGE_HEADERS

router = APIRouter(prefix=RECEIVER_PATH, include_in_schema=False)


def _receiver(request: Request) -> Receiver:
    receiver: Receiver = request.app.state.sandbox_receiver
    return receiver


@router.post("")
async def receive(request: Request) -> Response:
    """Take a delivery: 204 if it verifies, 400 (retried by relink-api) if not."""
    receiver = _receiver(request)
    body = await request.body()
    headers = dict(request.headers)
    event = receiver.verify(body, headers)
    if event is None:
        receiver.refused += 1
        return Response(status_code=400)
    # A redelivery of an event already shown is acknowledged and not listed twice.
    if all(kept.event["id"] != event["id"] for kept in receiver.received):
        receiver.received.appendleft(Received(event, datetime.now(UTC)))
    return Response(status_code=204)


@router.get("/events", dependencies=[Depends(local_or_operator)])
async def list_received(request: Request) -> dict[str, Any]:
    """The verified deliveries, newest first."""
    receiver = _receiver(request)
    return {
        "endpoint_id": receiver.endpoint_id,
        "refused": receiver.refused,
        "data": [
            {"event": kept.event, "received_at": kept.received_at.isoformat(), "verified": True}
            for kept in receiver.received
        ],
    }


@router.get("", dependencies=[Depends(local_or_operator)])
async def page(request: Request) -> HTMLResponse:
    """What arrived, for a person; the page reloads itself every few seconds."""
    receiver = _receiver(request)
    rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>verified</td></tr>".format(
            html.escape(kept.received_at.strftime("%H:%M:%S")),
            html.escape(str(kept.event.get("type"))),
            html.escape(_subject(kept.event)),
            html.escape(str(kept.event.get("id"))),
        )
        for kept in receiver.received
    )
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='refresh' content='3'>"
        "<title>Sandbox receiver · relink-api</title>"
        "<link rel='stylesheet' href='/static/app.css'></head><body><main>"
        "<h1>Events your application would receive</h1>"
        f"<p>Endpoint {html.escape(receiver.endpoint_id or 'not registered')}: every "
        "delivery is verified with the Standard Webhooks library before it is listed "
        f"({receiver.refused} refused). Break a link in the sandbox (docs/sandbox.md) and "
        "its event appears here within seconds.</p>"
        "<table><thead><tr><th scope='col'>Received</th><th scope='col'>Type</th>"
        "<th scope='col'>About</th><th scope='col'>Event</th><th scope='col'>Signature</th>"
        f"</tr></thead><tbody>{rows}</tbody></table></main></body></html>"
    )
    return HTMLResponse(body, headers=PAGE_HEADERS)


def _subject(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    account = data.get("account") or {}
    subject = account.get("id") or data.get("account_id") or ""
    health = data.get("link_health") or data.get("outcome") or ""
    return f"{subject} {health}".strip()
