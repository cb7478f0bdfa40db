"""The operator API: every customer's accounts, link health in aggregate, and relinks an
operator starts on a customer's behalf."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from relink_api.accounts import service as accounts_service
from relink_api.accounts.models import AccountFilter
from relink_api.accounts.schemas import LinkHealth
from relink_api.admin.errors import AccountWithoutOwner
from relink_api.admin.schemas import (
    AdminAccountList,
    AdminAccountRead,
    AdminRelinkEmailCreate,
    AdminRelinkEmailCreated,
    AdminSummary,
    CauseCount,
    EndedOutcomes,
    FunnelRow,
    HealthCounts,
    RepairFunnel,
    RepairOutcomes,
    WeeklyDeactivations,
)
from relink_api.auth import Operator, Principal
from relink_api.db import Database
from relink_api.errors import NotFound
from relink_api.gateway.client import StripeGateway
from relink_api.idempotency import service as idempotency
from relink_api.idempotency.service import Claim, IdempotencyKey, Idempotent
from relink_api.outbound import endpoints as outbound_endpoints
from relink_api.prompts import service as prompts_service
from relink_api.relink import creation as relink_creation
from relink_api.relink import service as relink_service
from relink_api.relink.create_schemas import CreatedSession, RelinkSessionCreateHosted
from relink_api.relink.schemas import Delivery, RelinkScope, RelinkSessionRead, UiMode
from relink_api.settings import Settings

logger = logging.getLogger(__name__)

UPCOMING_WEEKS = 8
FUNNEL_WEEKS = 8
_FUNNEL_COUNTS = (
    "week_start",
    "cause",
    "broken",
    "prompted",
    "prompted_by_event",
    "prompted_by_email",
    "relink_started",
    "still_broken",
    "median_hours_to_repair",
)
_HEALTH_ORDER = {health: index for index, health in enumerate(LinkHealth)}


async def list_accounts(
    db: Database,
    *,
    health: Sequence[LinkHealth] | None,
    customer_id: str | None,
    institution_id: str | None,
    cursor: str | None,
    limit: int,
) -> AdminAccountList:
    """A page of every customer's accounts, filtered by health, owner and institution."""
    matching = AccountFilter(
        customer_id=customer_id, health=tuple(health or ()), institution_id=institution_id
    )
    page = await accounts_service.page_of_accounts(
        db, matching=matching, cursor=cursor, limit=limit, model=AdminAccountRead
    )
    return AdminAccountList(data=page.rows, has_more=page.has_more, next_cursor=page.next_cursor)


async def summarize(
    db: Database, *, weeks: int = FUNNEL_WEEKS, as_of: datetime | None = None
) -> AdminSummary:
    """Accounts by link health and cause, expiring accounts by week, and the repair funnel
    of the last ``weeks`` weeks, as of ``as_of`` (now)."""
    as_of = as_of or datetime.now(UTC)
    counts = await accounts_service.count_accounts(db, at=as_of, weeks=UPCOMING_WEEKS)
    groups = counts.by_health_and_cause
    by_health = dict.fromkeys(LinkHealth, 0)
    for group in groups:
        by_health[group.health] += group.count
    causes = sorted(
        (group for group in groups if group.health is not LinkHealth.ok),
        key=lambda group: (_HEALTH_ORDER[group.health], -group.count, group.cause or ""),
    )
    return AdminSummary(
        accounts_total=sum(by_health.values()),
        by_health=HealthCounts(**by_health),
        by_cause=[
            CauseCount(health=group.health, cause=group.cause, count=group.count)
            for group in causes
        ],
        upcoming_deactivations=[
            WeeklyDeactivations(week_start=week.week_start, count=week.count)
            for week in counts.deactivations_by_week
        ],
        funnel=await _funnel(db, as_of=as_of, weeks=weeks),
        webhook_endpoints_unhealthy=await outbound_endpoints.endpoint_health(db),
        as_of=as_of,
    )


async def _funnel(db: Database, *, as_of: datetime, weeks: int) -> RepairFunnel:
    groups = await prompts_service.funnel(db, now=as_of, weeks=weeks)
    return RepairFunnel(
        since=prompts_service.funnel_start(as_of, weeks),
        weeks=weeks,
        rows=[
            FunnelRow(
                **{name: getattr(group, name) for name in _FUNNEL_COUNTS},
                repaired=RepairOutcomes(
                    relinked=group.relinked,
                    new_account=group.new_account,
                    recovered=group.recovered,
                ),
                ended=EndedOutcomes(
                    unrepairable=group.unrepairable, disconnected=group.disconnected
                ),
            )
            for group in groups
        ],
    )


async def send_relink_email(
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    *,
    operator: Operator,
    account_id: str,
    scope: RelinkScope,
    idempotency_key: IdempotencyKey | None = None,
) -> Idempotent[AdminRelinkEmailCreated]:
    """Have Stripe email the account's customer a hosted relink for it (once per
    idempotency key: a repeat sends no second email)."""

    return await idempotency.create_once(
        db,
        idempotency_key,
        scope=idempotency.operator_scope(operator.key_id),
        body=AdminRelinkEmailCreate(scope=scope),
        create=lambda claim: _send_relink_email(
            db,
            gateway,
            settings,
            operator=operator,
            account_id=account_id,
            scope=scope,
            claim=claim,
        ),
        ids=lambda created: {"relink_session_id": created.id, "customer_id": created.customer_id},
        rebuild=lambda ids: _email_again(
            db, customer_id=ids["customer_id"], session_id=ids["relink_session_id"]
        ),
    )


async def _email_again(
    db: Database, *, customer_id: str, session_id: str
) -> AdminRelinkEmailCreated:
    session = await relink_service.get_session(
        db, principal=Principal(customer_id=customer_id, subject="admin"), session_id=session_id
    )
    return _email_created(session, customer_id=customer_id)


async def _send_relink_email(
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    *,
    operator: Operator,
    account_id: str,
    scope: RelinkScope,
    claim: Claim | None,
) -> AdminRelinkEmailCreated:
    account = await accounts_service.find(db, account_id=account_id)
    if account is None:
        raise NotFound(f"No account {account_id}.")
    if account.customer_id is None:
        raise AccountWithoutOwner(
            f"Account {account_id} belongs to no customer, so there is nobody to email. "
            "Assign its owner first (relink-api import --account … --customer …)."
        )
    # The relink runs exactly as if the customer had asked: the same repairability checks
    # and the same ownership check, made again under the customer's identity.
    created = await relink_creation.new_session(
        db,
        gateway,
        settings,
        principal=Principal(customer_id=account.customer_id, subject="admin"),
        request=RelinkSessionCreateHosted(
            account_id=account.id, scope=scope, ui_mode=UiMode.hosted, delivery=Delivery.email
        ),
        claim=claim,
    )
    logger.info(
        "operator key %s had Stripe email relink session %s (account %s, customer %s)",
        operator.key_id,
        created.id,
        created.account_id,
        account.customer_id,
    )
    return _email_created(created, customer_id=account.customer_id)


def _email_created(
    session: CreatedSession | RelinkSessionRead, *, customer_id: str
) -> AdminRelinkEmailCreated:
    # The session's fields the operator's type has; it drops the others.
    return AdminRelinkEmailCreated(**session.model_dump(), customer_id=customer_id)
