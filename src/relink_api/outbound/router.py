"""HTTP routes of the operator API for outbound events: the host application's webhook
endpoints, their deliveries, and the events (an admin key in X-Admin-Key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from relink_api.errors import AdminUnauthorized
from relink_api.outbound import deliveries, endpoints
from relink_api.outbound.delivery_schemas import (
    DeliveryStatus,
    EventDeliveryList,
    EventDeliveryRead,
    OutboundEventList,
)
from relink_api.outbound.errors import EndpointDisabled
from relink_api.outbound.event_types import OutboundEventType
from relink_api.outbound.schemas import (
    ENDPOINT_ID,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointList,
    WebhookEndpointRead,
    WebhookEndpointSecret,
)
from relink_api.pagination import DEFAULT_PAGE_SIZE
from relink_api.ratelimit.errors import RateLimited
from relink_api.web.deps import AdminDep, DatabaseDep, IdempotencyKeyDep, SettingsDep, created
from relink_api.web.inputs import STORABLE_TEXT, STRICT_QUERY
from relink_api.web.params import Cursor, Limit
from relink_api.web.responses import create_responses, links, problem_responses

# The operator's refusals: a missing key is its own problem type; failed keys are throttled.
_OPERATOR_PROBLEMS: dict[int, tuple[str, str, str]] = {
    401: (
        AdminUnauthorized.slug,
        AdminUnauthorized.title,
        "The X-Admin-Key header is missing or names no admin API key.",
    ),
    429: (
        RateLimited.slug,
        RateLimited.title,
        "Too many failed admin API key attempts from this address; retry in 6 seconds.",
    ),
    404: ("not-found", "Not found", f"No webhook endpoint {ENDPOINT_ID}."),
    409: (
        "idempotency-key-in-use",
        "A request with this Idempotency-Key is still in progress",
        "The first request with Idempotency-Key 'a1' is still running; retry after it "
        "finishes to get its result.",
    ),
}
_READ = (401, 422, 429, 500, 503)

EndpointId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=STORABLE_TEXT,
        description="The webhook endpoint's id (we_…).",
        examples=[ENDPOINT_ID],
    ),
]
DeliveryId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=STORABLE_TEXT,
        description="The delivery's id (dlv_…).",
        examples=["dlv_0cc175b9c0f1b6a831c399e269772661"],
    ),
]
_ENDPOINT_LINKS = links(
    {
        "adminGetWebhookEndpoint": "Read the endpoint again (never its secret).",
        "adminListEventDeliveries": "What was delivered to it, and every attempt.",
        "adminRotateWebhookEndpointSecret": "Replace its signing secret.",
    },
    endpoint_id="$response.body#/id",
)

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[STRICT_QUERY])


@router.post(
    "/webhook-endpoints",
    response_model=WebhookEndpointCreated,
    status_code=status.HTTP_201_CREATED,
    operation_id="adminCreateWebhookEndpoint",
    summary="Register an endpoint of the host application for outbound events",
    description="Events of the chosen types (every type by default) are POSTed to `url`, "
    "signed per the Standard Webhooks specification with the returned `secret`, which is "
    "shown only in this response. The URL must be https and must not name a private, "
    "loopback or link-local address (a 422 naming `url`). Safe to retry with an "
    "`Idempotency-Key` (a replay returns the endpoint with its current secret).",
    responses=create_responses(
        _ENDPOINT_LINKS, 400, 401, 409, 422, 429, 500, 503, examples=_OPERATOR_PROBLEMS
    ),
)
async def create_endpoint(
    body: WebhookEndpointCreate,
    response: Response,
    operator: AdminDep,
    db: DatabaseDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyDep,
) -> WebhookEndpointCreated:
    return created(
        response,
        await endpoints.create(
            db, settings, body, operator=operator, idempotency_key=idempotency_key
        ),
    )


@router.get(
    "/webhook-endpoints",
    response_model=WebhookEndpointList,
    operation_id="adminListWebhookEndpoints",
    summary="List the webhook endpoints",
    description="Every registered endpoint, oldest id first, with its status and whether it "
    "is failing; never a secret.",
    responses=problem_responses(400, *_READ, examples=_OPERATOR_PROBLEMS),
)
async def list_endpoints(
    operator: AdminDep, db: DatabaseDep, cursor: Cursor = None, limit: Limit = DEFAULT_PAGE_SIZE
) -> WebhookEndpointList:
    return await endpoints.list_endpoints(db, cursor=cursor, limit=limit)


@router.get(
    "/webhook-endpoints/{endpoint_id}",
    response_model=WebhookEndpointRead,
    operation_id="adminGetWebhookEndpoint",
    summary="Get a webhook endpoint",
    description="The endpoint, its status and whether it is failing; never its secret.",
    responses=problem_responses(404, *_READ, examples=_OPERATOR_PROBLEMS),
)
async def get_endpoint(
    endpoint_id: EndpointId, operator: AdminDep, db: DatabaseDep
) -> WebhookEndpointRead:
    return await endpoints.get(db, endpoint_id)


@router.post(
    "/webhook-endpoints/{endpoint_id}/disable",
    response_model=WebhookEndpointRead,
    operation_id="adminDisableWebhookEndpoint",
    summary="Stop delivering to a webhook endpoint",
    description="Nothing more is sent to it, and the deliveries waiting for it are marked "
    "`failed` (redeliver them once it is enabled again). Disabling a disabled endpoint "
    "changes nothing.",
    responses=problem_responses(404, *_READ, examples=_OPERATOR_PROBLEMS),
)
async def disable_endpoint(
    endpoint_id: EndpointId, operator: AdminDep, db: DatabaseDep
) -> WebhookEndpointRead:
    return await endpoints.disable(db, endpoint_id, operator=operator)


@router.post(
    "/webhook-endpoints/{endpoint_id}/enable",
    response_model=WebhookEndpointRead,
    operation_id="adminEnableWebhookEndpoint",
    summary="Deliver to a webhook endpoint again",
    description="New events reach it again and its failing state is cleared. Deliveries "
    "failed while it was disabled stay failed; redeliver the ones that matter.",
    responses=problem_responses(404, *_READ, examples=_OPERATOR_PROBLEMS),
)
async def enable_endpoint(
    endpoint_id: EndpointId, operator: AdminDep, db: DatabaseDep
) -> WebhookEndpointRead:
    return await endpoints.enable(db, endpoint_id, operator=operator)


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response_model=WebhookEndpointSecret,
    operation_id="adminRotateWebhookEndpointSecret",
    summary="Replace a webhook endpoint's signing secret",
    description="Returns the new secret, shown only here. For 24 hours deliveries carry two "
    "signatures in `webhook-signature`, with the new and the previous secret, so the "
    "receiver can switch without dropping one; after that only the new secret signs.",
    responses=problem_responses(404, *_READ, examples=_OPERATOR_PROBLEMS),
)
async def rotate_secret(
    endpoint_id: EndpointId, response: Response, operator: AdminDep, db: DatabaseDep
) -> WebhookEndpointSecret:
    response.headers["Cache-Control"] = "no-store"
    return await endpoints.rotate_secret(db, endpoint_id, operator=operator)


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    response_model=EventDeliveryList,
    operation_id="adminListEventDeliveries",
    summary="List what was delivered to a webhook endpoint",
    description="The endpoint's deliveries, newest first, optionally of one status: each "
    "with its event, status, attempts, next attempt and every attempt's HTTP status, error "
    "and duration.",
    responses=problem_responses(400, 404, *_READ, examples=_OPERATOR_PROBLEMS),
)
async def list_deliveries(
    endpoint_id: EndpointId,
    operator: AdminDep,
    db: DatabaseDep,
    delivery_status: Annotated[
        DeliveryStatus | None, Query(alias="status", description="Only deliveries in this state.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> EventDeliveryList:
    return await deliveries.list_deliveries(
        db, endpoint_id, status=delivery_status, cursor=cursor, limit=limit
    )


@router.post(
    "/event-deliveries/{delivery_id}/redeliver",
    response_model=EventDeliveryRead,
    operation_id="adminRedeliverEvent",
    summary="Send a delivery again",
    description="The delivery becomes pending and due now, with a fresh retry window; its "
    "attempts so far are kept. Its endpoint must be enabled (else a 409).",
    responses=problem_responses(
        404,
        409,
        *_READ,
        examples={
            **_OPERATOR_PROBLEMS,
            404: ("not-found", "Not found", "No event delivery dlv_123."),
            409: (
                EndpointDisabled.slug,
                EndpointDisabled.title,
                "The endpoint of delivery dlv_123 is disabled; enable it, then redeliver.",
            ),
        },
    ),
)
async def redeliver(
    delivery_id: DeliveryId, operator: AdminDep, db: DatabaseDep
) -> EventDeliveryRead:
    return await deliveries.redeliver(db, delivery_id, operator=operator)


@router.get(
    "/events",
    response_model=OutboundEventList,
    operation_id="adminListOutboundEvents",
    summary="List outbound events",
    description="The events relink-api wrote for the host application, newest first, "
    "exactly as they are delivered; filtered by type and account.",
    responses=problem_responses(400, *_READ, examples=_OPERATOR_PROBLEMS),
)
async def list_events(
    operator: AdminDep,
    db: DatabaseDep,
    event_type: Annotated[
        OutboundEventType | None, Query(alias="type", description="Only events of this type.")
    ] = None,
    account_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            pattern=STORABLE_TEXT,
            description="Only events about this account.",
            examples=["fca_1PZ3xY2eZvKYlo2C"],
        ),
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> OutboundEventList:
    return await deliveries.list_events(
        db, type=event_type, account_id=account_id, cursor=cursor, limit=limit
    )
