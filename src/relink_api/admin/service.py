"""The operator API: every customer's accounts, link health in aggregate, and relinks an
operator starts on a customer's behalf."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from relink_api.accounts import repository as accounts_repository
from relink_api.accounts.schemas import LinkHealth
from relink_api.accounts.service import to_read
from relink_api.admin import repository
from relink_api.admin.schemas import (
    AdminAccountList,
    AdminAccountRead,
    AdminRelinkEmailCreated,
    AdminSummary,
    CauseCount,
    HealthCounts,
    WeeklyDeactivations,
)
from relink_api.auth import Operator, Principal
from relink_api.db import Database
from relink_api.errors import AccountWithoutOwner, NotFound
from relink_api.pagination import decode_cursor, encode_cursor
from relink_api.relink import service as relink_service
from relink_api.relink.schemas import Delivery, RelinkScope, RelinkSessionCreate, UiMode
from relink_api.settings import Settings
from relink_api.stripe_gateway import StripeGateway

logger = logging.getLogger(__name__)

UPCOMING_WEEKS = 8
_HEALTH_ORDER = {health.value: index for index, health in enumerate(LinkHealth)}


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
    after_id = decode_cursor(cursor)
    async with db.connection() as conn:
        rows = await repository.list_all(
            conn,
            health=[value.value for value in health] if health else None,
            customer_id=customer_id,
            institution_id=institution_id,
            after_id=after_id,
            limit=limit + 1,
        )
    has_more = len(rows) > limit
    rows = rows[:limit]
    return AdminAccountList(
        data=[
            AdminAccountRead(**to_read(row).model_dump(), customer_id=row.customer_id)
            for row in rows
        ],
        has_more=has_more,
        next_cursor=encode_cursor(rows[-1].id) if has_more else None,
    )


async def summarize(db: Database) -> AdminSummary:
    """Accounts by link health and cause, and expiring accounts by week, as of now."""
    as_of = datetime.now(UTC)
    async with db.connection() as conn:
        # One snapshot for both counts, so the weekly figures never exceed `expiring`.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            groups = await repository.count_by_health_and_cause(conn, at=as_of)
            weeks = await repository.count_deactivations_by_week(
                conn, at=as_of, weeks=UPCOMING_WEEKS
            )
    by_health = dict.fromkeys(_HEALTH_ORDER, 0)
    for group in groups:
        by_health[group.health] += group.count
    causes = sorted(
        (group for group in groups if group.health != LinkHealth.ok),
        key=lambda group: (_HEALTH_ORDER[group.health], -group.count, group.cause or ""),
    )
    return AdminSummary(
        accounts_total=sum(by_health.values()),
        by_health=HealthCounts(**by_health),
        by_cause=[
            CauseCount(health=LinkHealth(group.health), cause=group.cause, count=group.count)
            for group in causes
        ],
        upcoming_deactivations=[
            WeeklyDeactivations(week_start=week.week_start, count=week.count) for week in weeks
        ],
        as_of=as_of,
    )


async def send_relink_email(
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    *,
    operator: Operator,
    account_id: str,
    scope: RelinkScope,
) -> AdminRelinkEmailCreated:
    """Have Stripe email the account's customer a hosted relink for it."""
    async with db.connection() as conn:
        account = await accounts_repository.get(conn, account_id=account_id)
    if account is None:
        raise NotFound(f"No account {account_id}.")
    if account.customer_id is None:
        raise AccountWithoutOwner(
            f"Account {account_id} belongs to no customer, so there is nobody to email. "
            "Assign its owner first (relink-api import --account … --customer …)."
        )
    # The relink runs exactly as if the customer had asked: the same repairability checks
    # and the same ownership check, made again under the customer's identity.
    created = await relink_service.create_session(
        db,
        gateway,
        settings,
        principal=Principal(customer_id=account.customer_id, subject="admin"),
        request=RelinkSessionCreate(
            account_id=account.id, scope=scope, ui_mode=UiMode.hosted, delivery=Delivery.email
        ),
    )
    logger.info(
        "operator key %s had Stripe email relink session %s (account %s, customer %s)",
        operator.key_id,
        created.id,
        created.account_id,
        account.customer_id,
    )
    return AdminRelinkEmailCreated(
        id=created.id,
        stripe_session_id=created.stripe_session_id,
        customer_id=account.customer_id,
        scope=created.scope,
        account_id=created.account_id,
        authorization_id=created.authorization_id,
        status=created.status,
        created_at=created.created_at,
    )
