"""POST /v1/webhooks/stripe."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from starlette._utils import get_route_path
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from relink_api.edge.body_limit import WEBHOOK_MAX_BODY_BYTES, WEBHOOK_PATH
from relink_api.edge.request_context import note_on_access_line
from relink_api.errors import NotFound
from relink_api.gateway.objects import StripeEvent
from relink_api.settings import Settings
from relink_api.web.responses import problem_responses
from relink_api.web.security import NO_CREDENTIALS
from relink_api.webhooks import service
from relink_api.webhooks.schemas import WebhookAck, WebhookResult

router = APIRouter(tags=["webhooks"])

# The body is read raw (the signature covers its exact bytes), so FastAPI cannot derive its
# schema: document Stripe's event envelope here.
_EVENT_BODY = {
    "required": True,
    "description": "A Stripe event, exactly as Stripe sent it (the signature covers the raw "
    f"bytes). At most {WEBHOOK_MAX_BODY_BYTES} bytes.",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "title": "StripeEvent",
                "required": ["id", "type", "created"],
                "properties": {
                    "id": {"type": "string", "minLength": 1, "maxLength": 255},
                    "object": {"type": "string", "const": "event"},
                    "type": {"type": "string", "minLength": 1, "maxLength": 255},
                    "created": {"type": "integer"},
                    "api_version": {"type": ["string", "null"]},
                    "livemode": {"type": "boolean"},
                    "data": {
                        "type": "object",
                        "properties": {"object": {"type": "object"}},
                    },
                },
            },
            "example": {
                "id": "evt_1PZ3xY",
                "object": "event",
                "type": "financial_connections.account.deactivated",
                "created": 1795000000,
                "api_version": "2026-09-30.preview",
                "livemode": False,
                "data": {
                    "object": {
                        "id": "fca_1PZ3xY2eZvKYlo2C",
                        "object": "financial_connections.account",
                        "status": "inactive",
                    }
                },
            },
        }
    },
}


@router.post(
    WEBHOOK_PATH,
    response_model=WebhookAck,
    operation_id="receiveStripeWebhook",
    summary="Receive a signed Stripe event",
    description=(
        "Stripe's webhook deliveries. Authenticated by the `Stripe-Signature` header "
        "(HMAC-SHA256 of `<t>.<raw body>` with the endpoint's signing secret; any `v1` "
        "matching any active secret passes, and `t` must lie within the tolerance either "
        "way). Answers 200 only after the event is durably recorded; a redelivered event "
        "id changes nothing. Answers 404 when no signing secret is configured. Bodies over "
        f"{WEBHOOK_MAX_BODY_BYTES} bytes are refused with a 413 before the signature is "
        "checked. No bearer token: the signature is the authentication."
    ),
    openapi_extra={"requestBody": _EVENT_BODY, **NO_CREDENTIALS},
    responses=problem_responses(
        400,
        404,
        413,
        422,
        500,
        502,
        503,
        examples={
            400: (
                "webhook-signature-invalid",
                "The webhook signature is not valid",
                "No signature matches the payload.",
            ),
            404: (
                "not-found",
                "Not found",
                "Webhooks are not enabled on this server (no STRIPE_WEBHOOK_SECRET).",
            ),
        },
    ),
)
async def receive_stripe_webhook(
    request: Request,
    stripe_signature: Annotated[
        str | None,
        Header(
            alias="Stripe-Signature",
            description="Stripe's signature: `t=<unix time>,v1=<hex HMAC-SHA256 of "
            "'<t>.<raw body>'>` (several `v1` while Stripe rolls the secret). Missing or "
            "wrong: 400 `webhook-signature-invalid`.",
            examples=[
                "t=1795000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"
            ],
        ),
    ] = None,
) -> WebhookAck:
    # What the document describes; deliveries are answered by ``DeliveryRoute`` below.
    return await _received(request, stripe_signature)


async def _received(request: Request, signature: str | None) -> WebhookAck:
    settings: Settings = request.app.state.settings
    if not settings.stripe_webhook_secrets:
        # Never "accept unsigned": without a secret there is no endpoint.
        raise NotFound("Webhooks are not enabled on this server (no STRIPE_WEBHOOK_SECRET).")
    # The body limit in front of every route (relink_api.edge.body_limit) has bounded it.
    payload = await request.body()
    state = request.app.state
    scope = request.scope

    def on_access_line(event: StripeEvent, result: WebhookResult) -> None:
        # One line a delivery: the event's on the access line, not a line of its own.
        note_on_access_line(
            scope,
            f"webhook {event.id} {event.type}: {result.value}",
            event_id=event.id,
            event_type=event.type,
            webhook_result=result.value,
        )

    return await service.receive_event(
        state.database,
        state.stripe,
        settings,
        payload=payload,
        signature_header=signature,
        note=on_access_line,
    )


_ACK_JSON = WebhookAck.__pydantic_serializer__


async def _deliver(request: Request) -> Response:
    ack = await _received(request, request.headers.get("stripe-signature"))
    # The bytes FastAPI's response model would write (pydantic's JSON, by alias).
    return Response(_ACK_JSON.to_json(ack, by_alias=True), media_type="application/json")


class DeliveryRoute(Route):
    """``POST /v1/webhooks/stripe`` without FastAPI's walk through every router and its
    dependency resolution (together most of a delivery's CPU in the server): placed first
    among the app's routes, it takes only POST to this exact path; any other method falls
    through to the documented route above, which answers as it always has. Errors raised
    here meet the same problem handlers."""

    def __init__(self) -> None:
        super().__init__(WEBHOOK_PATH, _deliver, methods=["POST"], include_in_schema=False)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "POST":
            return Match.NONE, {}
        if get_route_path(scope) != WEBHOOK_PATH:
            return Match.NONE, {}
        # The route in the scope, as the router notes it: the metrics label it by template.
        return Match.FULL, {"endpoint": self.endpoint, "path_params": {}, "route": self}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
