"""Webhook endpoints of the host application, as the operator manages them: registered
(with a secret shown once), listed, disabled and enabled, and their secrets rotated."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta

import asyncpg

from relink_api.auth import Operator
from relink_api.db import Database
from relink_api.errors import NotFound
from relink_api.idempotency import service as idempotency
from relink_api.idempotency.service import Claim, IdempotencyKey, Idempotent
from relink_api.outbound import endpoint_repository as repository
from relink_api.outbound import signing
from relink_api.outbound.addresses import allows_private, check_endpoint_url
from relink_api.outbound.errors import EndpointUrlInvalid
from relink_api.outbound.schemas import (
    EndpointHealth,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointList,
    WebhookEndpointRead,
    WebhookEndpointSecret,
)
from relink_api.pagination import fetch_page
from relink_api.settings import Settings

logger = logging.getLogger(__name__)

# How long the previous secret keeps signing after a rotation: time for receivers to switch.
ROTATION_OVERLAP = timedelta(hours=24)


def _read(row: asyncpg.Record) -> WebhookEndpointRead:
    return WebhookEndpointRead.model_validate(dict(row))


def _missing(endpoint_id: str) -> NotFound:
    return NotFound(f"No webhook endpoint {endpoint_id}.")


async def create(
    db: Database,
    settings: Settings,
    request: WebhookEndpointCreate,
    *,
    operator: Operator,
    idempotency_key: IdempotencyKey | None = None,
) -> Idempotent[WebhookEndpointCreated]:
    """Register an endpoint and make its signing secret (once per idempotency key: a
    repeat returns the same endpoint, with its current secret)."""
    try:
        check_endpoint_url(request.url, allow_private=allows_private(settings))
    except EndpointUrlInvalid as exc:
        raise exc.problem() from None
    return await idempotency.create_once(
        db,
        idempotency_key,
        scope=idempotency.operator_scope(operator.key_id),
        body=request,
        create=lambda claim: _insert(db, request, operator=operator, claim=claim),
        ids=lambda created: {"webhook_endpoint_id": created.id},
        rebuild=lambda ids: _created_again(db, ids["webhook_endpoint_id"]),
    )


async def _insert(
    db: Database, request: WebhookEndpointCreate, *, operator: Operator, claim: Claim | None
) -> WebhookEndpointCreated:
    # A keyed create derives its id from the claim: a retry after a crash finds the same one.
    suffix = claim.derive("webhook_endpoint") if claim is not None else secrets.token_hex(12)
    secret = signing.new_secret()
    async with db.transaction() as conn:
        row = await repository.insert(
            conn,
            endpoint_id=f"we_{suffix}",
            url=request.url,
            description=request.description,
            event_types=[event_type.value for event_type in request.event_types],
            secret=secret,
            at=datetime.now(UTC),
        )
    logger.info("operator key %s registered webhook endpoint %s", operator.key_id, row["id"])
    return WebhookEndpointCreated(**_read(row).model_dump(), secret=secret)


async def _created_again(db: Database, endpoint_id: str) -> WebhookEndpointCreated:
    async with db.connection() as conn:
        row = await repository.get(conn, endpoint_id)
        secret = await repository.secret(conn, endpoint_id)
    if row is None or secret is None:
        raise _missing(endpoint_id)
    return WebhookEndpointCreated(**_read(row).model_dump(), secret=secret)


async def list_endpoints(db: Database, *, cursor: str | None, limit: int) -> WebhookEndpointList:
    """A page of endpoints, oldest id first; never a secret."""

    async def fetch(after_id: str | None, n: int) -> list[WebhookEndpointRead]:
        async with db.connection() as conn:
            return [_read(row) for row in await repository.page(conn, after_id=after_id, limit=n)]

    page = await fetch_page(fetch, cursor=cursor, limit=limit)
    return WebhookEndpointList(data=page.rows, has_more=page.has_more, next_cursor=page.next_cursor)


async def get(db: Database, endpoint_id: str) -> WebhookEndpointRead:
    """One endpoint, or ``NotFound``."""
    async with db.connection() as conn:
        row = await repository.get(conn, endpoint_id)
    if row is None:
        raise _missing(endpoint_id)
    return _read(row)


async def disable(db: Database, endpoint_id: str, *, operator: Operator) -> WebhookEndpointRead:
    """Stop delivering to the endpoint; the deliveries waiting for it are marked failed (they
    can be redelivered once it is enabled again)."""
    async with db.transaction() as conn:
        row = await repository.disable(conn, endpoint_id, reason="operator", at=datetime.now(UTC))
    if row is None:
        raise _missing(endpoint_id)
    logger.info("operator key %s disabled webhook endpoint %s", operator.key_id, endpoint_id)
    return _read(row)


async def enable(db: Database, endpoint_id: str, *, operator: Operator) -> WebhookEndpointRead:
    """Deliver to the endpoint again, as if it had never failed; new events reach it."""
    async with db.transaction() as conn:
        row = await repository.enable(conn, endpoint_id, at=datetime.now(UTC))
    if row is None:
        raise _missing(endpoint_id)
    logger.info("operator key %s enabled webhook endpoint %s", operator.key_id, endpoint_id)
    return _read(row)


async def rotate_secret(
    db: Database, endpoint_id: str, *, operator: Operator
) -> WebhookEndpointSecret:
    """A new signing secret, shown once; the previous one keeps signing beside it for
    ``ROTATION_OVERLAP`` (a secret older than that is dropped)."""
    now = datetime.now(UTC)
    secret = signing.new_secret()
    async with db.transaction() as conn:
        row = await repository.rotate_secret(
            conn, endpoint_id, secret=secret, previous_until=now + ROTATION_OVERLAP, at=now
        )
    if row is None:
        raise _missing(endpoint_id)
    logger.info(
        "operator key %s rotated the secret of webhook endpoint %s", operator.key_id, endpoint_id
    )
    return WebhookEndpointSecret(
        id=endpoint_id, secret=secret, previous_secret_expires_at=row["previous_secret_expires_at"]
    )


async def endpoint_health(db: Database) -> list[EndpointHealth]:
    """Endpoints that are failing or disabled, with the deliveries waiting for each: what
    the operator summary reports."""
    async with db.connection() as conn:
        rows = await repository.unhealthy(conn)
    return [
        EndpointHealth(
            id=row["id"],
            url=row["url"],
            status=row["status"],
            failing_since=row["failing_since"],
            disabled_at=row["disabled_at"],
            disabled_reason=row["disabled_reason"],
            pending_deliveries=row["pending"],
        )
        for row in rows
    ]
