"""POST /v1/webhooks/stripe."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from relink_api.deps import DatabaseDep, SettingsDep, StripeDep
from relink_api.errors import NotFound, ProblemError, problem_responses
from relink_api.webhooks import service
from relink_api.webhooks.schemas import WebhookAck

router = APIRouter(tags=["webhooks"])

MAX_BODY_BYTES = 1024 * 1024


class PayloadTooLarge(ProblemError):
    status = 413
    slug = "payload-too-large"
    title = "The body is too large"


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Webhook bodies are limited to {limit} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"Webhook bodies are limited to {limit} bytes.")
    return bytes(body)


@router.post(
    "/v1/webhooks/stripe",
    response_model=WebhookAck,
    operation_id="receiveStripeWebhook",
    summary="Receive a signed Stripe event",
    description=(
        "Stripe's webhook deliveries. Authenticated by the `Stripe-Signature` header "
        "(HMAC-SHA256 of `<t>.<raw body>` with the endpoint's signing secret; any `v1` "
        "matching any active secret passes, and `t` must lie within the tolerance either "
        "way). Answers 200 only after the event is durably recorded; a redelivered event "
        "id changes nothing. Answers 404 when no signing secret is configured."
    ),
    responses=problem_responses(400, 404, 413, 502, 503),
)
async def receive_stripe_webhook(
    request: Request,
    db: DatabaseDep,
    stripe: StripeDep,
    settings: SettingsDep,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> WebhookAck:
    if not settings.stripe_webhook_secrets:
        # Never "accept unsigned": without a secret there is no endpoint.
        raise NotFound("Webhooks are not enabled on this server (no STRIPE_WEBHOOK_SECRET).")
    payload = await _read_body(request, MAX_BODY_BYTES)
    return await service.receive_event(
        db, stripe, settings, payload=payload, signature_header=stripe_signature
    )
