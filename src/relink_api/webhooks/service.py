"""Receive a Stripe event: verify, record durably, apply once, in order."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from prometheus_client import Counter
from pydantic import ValidationError

from relink_api.accounts import at_once_batch
from relink_api.accounts.state import (
    ConflictingSnapshot,
    Notice,
    Observation,
    OwnerChangeUnconfirmed,
)
from relink_api.db import Database
from relink_api.db.documents import ReceivedDocument
from relink_api.errors import BadRequest
from relink_api.gateway.client import StripeGateway
from relink_api.gateway.objects import FcAccount, StripeEvent
from relink_api.metrics.families import WEBHOOK_EVENTS
from relink_api.settings import Settings
from relink_api.webhooks import repository
from relink_api.webhooks.handlers import (
    HANDLERS,
    MalformedEvent,
    Plan,
    fresh_account,
    planned,
    reread,
)
from relink_api.webhooks.schemas import WebhookAck, WebhookResult
from relink_api.webhooks.signature import SignatureError, verify

logger = logging.getLogger(__name__)


class WebhookSignatureInvalid(
    BadRequest, slug="webhook-signature-invalid", title="The webhook signature is not valid"
):
    """A missing, malformed, unknown or stale ``Stripe-Signature``."""


# Query parameters that are bearer credentials: the hosted return URL's ``state`` (whose
# SHA-256 is all relink_sessions keeps) opens the return page of a customer's relink.
_SECRET_QUERY_PARAMS = frozenset({"state"})


def without_secrets(value: Any) -> Any:
    """The document with every ``client_secret`` removed, and the ``state`` parameter
    dropped from every URL: session and SetupIntent payloads carry a client secret, a
    hosted session's return URLs carry our state token, and the event log must never hold
    a secret."""
    if isinstance(value, dict):
        return {key: without_secrets(item) for key, item in value.items() if key != "client_secret"}
    if isinstance(value, list):
        return [without_secrets(item) for item in value]
    if isinstance(value, str):
        return _without_secret_params(value)
    return value


def _without_secret_params(value: str) -> str:
    if "?" not in value or not any(f"{name}=" in value for name in _SECRET_QUERY_PARAMS):
        return value
    parts = urlsplit(value)
    if not parts.scheme:
        return value
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(name, item) for name, item in query if name not in _SECRET_QUERY_PARAMS]
    if len(kept) == len(query):
        return value
    return urlunsplit(parts._replace(query=urlencode(kept)))


# What a payload spells out in its raw JSON when ``without_secrets`` could change it: a
# name it drops, or a ``\\u`` escape that could hide one.
_SECRET_MARKERS = (
    b"\\u",
    b"client_secret",
    *(f"{name}=".encode() for name in _SECRET_QUERY_PARAMS),
)


def _may_hold_secrets(payload: bytes) -> bool:
    """Whether the document needs the walk; most events hold no marker, and skip it."""
    return any(marker in payload for marker in _SECRET_MARKERS)


def parse_event(payload: bytes) -> tuple[StripeEvent, dict[str, Any]]:
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedEvent("The body is not JSON.") from exc
    if not isinstance(document, dict):
        raise MalformedEvent("The body is not a JSON object.")
    if _may_hold_secrets(payload):
        document = without_secrets(document)
    elif payload.startswith(b"{") and b"\x00" not in payload:
        # Nothing to remove: stored from the bytes Stripe signed, not encoded again. Only
        # UTF-8 starts so without a NUL byte (json.loads also reads UTF-16 and UTF-32); what
        # strict UTF-8 refuses (a lone surrogate) goes the way it always went.
        with contextlib.suppress(UnicodeDecodeError):
            document = ReceivedDocument(payload.decode(), document)
    try:
        return StripeEvent.model_validate(document), document
    except ValidationError as exc:
        raise MalformedEvent("The body is not a Stripe event (id, type, created).") from exc


# What is said of an event once its result is durable: by default its own log line.
ResultNote = Callable[[StripeEvent, WebhookResult], None]


def log_result(event: StripeEvent, result: WebhookResult) -> None:
    """The event's line: its id, type and result."""
    logger.info("webhook %s %s: %s", event.id, event.type, result.value)


async def receive_event(
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    *,
    payload: bytes,
    signature_header: str | None,
    note: ResultNote = log_result,
) -> WebhookAck:
    """Verify, record and apply one delivery. Answers only after the commit; ``note``
    says what became of the event (not for a redelivery answered before any work)."""
    secrets = [secret.get_secret_value() for secret in settings.stripe_webhook_secrets]
    try:
        verify(
            payload,
            signature_header,
            secrets,
            tolerance=settings.webhook_tolerance_seconds,
            now=time.time(),
        )
    except SignatureError as exc:
        count_event(_UNKNOWN_TYPE, "invalid_signature")
        raise WebhookSignatureInvalid(str(exc)) from exc
    try:
        event, document = parse_event(payload)
    except MalformedEvent:
        count_event(_UNKNOWN_TYPE, "malformed")
        raise
    if event.livemode != (settings.stripe_mode == "live"):
        # A validly signed event of the other mode (a live endpoint's secret configured on
        # a test server, or the reverse) describes objects this server's key cannot see:
        # keep it in the log, apply nothing, and answer 2xx, since Stripe would otherwise
        # redeliver it for days to no purpose.
        result = await _record_refused(db, event, document)
        logger.warning(
            "webhook %s %s: livemode=%s on a %s-mode server; recorded, not applied (%s)",
            event.id,
            event.type,
            str(event.livemode).lower(),
            settings.stripe_mode or "test",
            result.value,
        )
        return _acknowledged(event, result)

    try:
        plan = planned(event)
        if plan is None:
            # A redelivery of an applied event needs no Stripe call and no transaction.
            if await _is_recorded(db, event.id):
                return _acknowledged(event, WebhookResult.duplicate)
            plan = await HANDLERS[event.type](event, db, gateway)
    except MalformedEvent:
        # An envelope that reads, around an object its type's handler cannot read.
        count_event(_type_label(event), "malformed")
        raise
    try:
        result = await _record_and_apply(db, event, document, plan)
    except ConflictingSnapshot as conflict:
        if await _is_recorded(db, event.id):
            return _acknowledged(event, WebhookResult.duplicate)
        # Same second, different state, or a payload moving an account to another customer:
        # only Stripe's current copy can settle it.
        account_id = str(conflict)
        if isinstance(conflict, OwnerChangeUnconfirmed):
            logger.warning(
                "event %s names another holder of %s; re-reading it from Stripe",
                event.id,
                account_id,
            )
        fresh = await fresh_account(gateway, account_id)
        plan.accounts = [
            _settled(observation, fresh, event)
            if observation.account.id == account_id
            else observation
            for observation in plan.accounts
        ]
        result = await _record_and_apply(db, event, document, plan)
    note(event, result)
    return _acknowledged(event, result)


# The `type` label of relink_webhook_events: the types relink-api handles by name, every
# other one (and what could not be read) under one value, so the series stay few.
_UNKNOWN_TYPE = "unknown"
_OTHER_TYPE = "other"


# Each series of relink_webhook_events by its labels, looked up once: labels() takes a lock
# and checks its values on every call. Both labels come from closed sets.
_SERIES: dict[tuple[str, str], Counter] = {}


def count_event(type_label: str, result: str) -> None:
    """One event in ``relink_webhook_events``."""
    series = _SERIES.get((type_label, result))
    if series is None:
        series = _SERIES[type_label, result] = WEBHOOK_EVENTS.labels(type_label, result)
    series.inc()


def _type_label(event: StripeEvent) -> str:
    return event.type if event.type in HANDLERS else _OTHER_TYPE


def _acknowledged(event: StripeEvent, result: WebhookResult) -> WebhookAck:
    """The answer to Stripe, once the event's result is durable; counted."""
    count_event(_type_label(event), result.value)
    return WebhookAck(event_id=event.id, result=result)


def _settled(
    observation: Observation,
    fresh: tuple[FcAccount, dict[str, Any]] | None,
    event: StripeEvent,
) -> Observation:
    """What settles a conflict: Stripe's current copy, or, if Stripe no longer knows the
    account, the event's own payload applied as the latest word, keeping the stored owner."""
    if fresh is None:
        notice = observation.origin
        assert isinstance(notice, Notice)
        return replace(observation, origin=replace(notice, ordered=False, owner_change="keep"))
    return reread(fresh, event)


async def _is_recorded(db: Database, event_id: str) -> bool:
    async with db.connection() as conn:
        return await repository.is_recorded(conn, event_id=event_id)


async def _record_refused(
    db: Database, event: StripeEvent, document: dict[str, Any]
) -> WebhookResult:
    async with db.connection() as conn:
        recorded = await repository.record(
            conn, event=event, payload=document, result=WebhookResult.refused.value
        )
    return WebhookResult.refused if recorded else WebhookResult.duplicate


class _Redelivered(Exception):
    """The event was recorded by another delivery while this one applied it."""


async def _record_and_apply(
    db: Database, event: StripeEvent, document: dict[str, Any], plan: Plan
) -> WebhookResult:
    """Apply the plan and record the event with its result, in one transaction; an event
    that changes nothing is recorded in one statement, without a transaction, and so is an
    account event that needs nothing SQL cannot do (``at_once_batch.apply_at_once``, with
    the events that arrive meanwhile)."""
    if not plan.handled:
        async with db.connection() as conn:
            recorded = await repository.record(
                conn, event=event, payload=document, result=WebhookResult.ignored.value
            )
        return WebhookResult.ignored if recorded else WebhookResult.duplicate
    if (at_once := await _applied_at_once(db, event, document, plan)) is not None:
        return at_once
    async with db.connection() as conn:
        try:
            async with conn.transaction():
                result = WebhookResult.stale if await plan.apply(conn) else WebhookResult.applied
                if not await repository.record(
                    conn, event=event, payload=document, result=result.value
                ):
                    raise _Redelivered  # rolls back what this delivery applied
        except _Redelivered:
            return WebhookResult.duplicate
    return result


async def _applied_at_once(
    db: Database, event: StripeEvent, document: dict[str, Any], plan: Plan
) -> WebhookResult | None:
    """The result of a plan of one account snapshot and nothing else, if one statement
    could apply it; ``None``: nothing was written."""
    if len(plan.accounts) != 1 or plan.authorization or plan.payment_method:
        return None
    outcome = await at_once_batch.apply_at_once(db, plan.accounts[0], event, document)
    return None if outcome is None else WebhookResult(outcome)


async def prune_events(db: Database, *, retention_days: int, now: datetime | None = None) -> int:
    """Delete events received more than ``retention_days`` ago (at least 30)."""
    if retention_days < 30:
        raise ValueError("Webhook events are kept at least 30 days.")
    cutoff = (now or datetime.now(tz=UTC)) - timedelta(days=retention_days)
    async with db.transaction() as conn:
        return await repository.prune(conn, received_before=cutoff)
