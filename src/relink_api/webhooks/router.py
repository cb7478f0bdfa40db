"""POST /v1/webhooks/stripe."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from relink_api.edge.body_limit import WEBHOOK_MAX_BODY_BYTES, WEBHOOK_PATH
from relink_api.errors import NotFound
from relink_api.web.deps import DatabaseDep, SettingsDep, StripeDep
from relink_api.web.responses import problem_responses
from relink_api.web.security import NO_CREDENTIALS
from relink_api.webhooks import service
from relink_api.webhooks.schemas import WebhookAck

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
    db: DatabaseDep,
    stripe: StripeDep,
    settings: SettingsDep,
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
    if not settings.stripe_webhook_secrets:
        # Never "accept unsigned": without a secret there is no endpoint.
        raise NotFound("Webhooks are not enabled on this server (no STRIPE_WEBHOOK_SECRET).")
    # The body limit in front of every route (relink_api.edge.body_limit) has bounded it.
    payload = await request.body()
    return await service.receive_event(
        db, stripe, settings, payload=payload, signature_header=stripe_signature
    )
