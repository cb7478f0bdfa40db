"""Reminders on a schedule: the loop that re-emits an open episode's event when a reminder
falls due, and has Stripe email a hosted relink with it when configured.

Every process may run the loop: an episode is claimed with ``FOR UPDATE SKIP LOCKED`` and
its next reminder moved on in the transaction that emits the event, so each reminder goes
once. Emails are sent after that transaction (no connection is held across a Stripe call)
by the loop that claimed them; one that fails is logged and recorded, and its event stands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from relink_api.accounts import service as accounts_service
from relink_api.accounts.models import AccountRow
from relink_api.accounts.schemas import LinkHealth
from relink_api.auth import Principal
from relink_api.db import Connection, Database
from relink_api.errors import ProblemError
from relink_api.gateway.client import StripeGateway
from relink_api.metrics.families import REMINDERS
from relink_api.outbound import outbox
from relink_api.outbound.event_types import OutboundEventType
from relink_api.prompts import expiries, repository
from relink_api.prompts.payloads import Reminder, account_event
from relink_api.prompts.repository import Episode
from relink_api.prompts.schedule import Schedule, covered, plan, slots
from relink_api.relink import creation as relink_creation
from relink_api.relink.create_schemas import RelinkSessionCreateHosted
from relink_api.relink.schemas import Delivery, RelinkScope, UiMode
from relink_api.settings import ConfigurationError, Settings

logger = logging.getLogger(__name__)

# Episodes looked at per round; a round repeats while it finds a full batch.
_BATCH = 200
_EVENT = {
    Schedule.broken: (OutboundEventType.account_relink_required, LinkHealth.relink_required),
    Schedule.expiring: (OutboundEventType.account_expiring, LinkHealth.expiring),
}


def _now() -> datetime:
    return datetime.now(UTC)


def reminder_loops(
    database: Database, gateway: StripeGateway | None, settings: Settings
) -> list[tuple[str, Coroutine[Any, Any, None]]]:
    """The reminder loop, named, for a process to run beside its other work: none when
    reminders are off. Emails need ``gateway``."""
    if settings.reminder_interval_seconds <= 0:
        return []
    _check_email_gateway(gateway, settings)
    return [("reminders", run_reminders(database, gateway, settings))]


def _check_email_gateway(gateway: StripeGateway | None, settings: Settings) -> None:
    if settings.reminder_email and gateway is None:
        raise ConfigurationError(
            "RELINK_REMINDER_EMAIL needs STRIPE_SECRET_KEY: Stripe sends the emails."
        )


async def run_reminders(
    database: Database,
    gateway: StripeGateway | None,
    settings: Settings,
    *,
    clock: Callable[[], datetime] = _now,
) -> None:
    """Send due reminders every ``reminder_interval_seconds`` until cancelled (0: never)."""
    if settings.reminder_interval_seconds <= 0:
        return
    while True:
        try:
            await send_due_reminders(database, gateway, settings, now=clock())
        except asyncio.CancelledError:
            raise
        except ProblemError as exc:
            # The database restarting, say: one bad round must not stop later rounds.
            logger.warning("reminders failed: %s", exc.detail)
        except Exception:
            logger.exception("reminders failed")
        await asyncio.sleep(settings.reminder_interval_seconds)


@dataclass(frozen=True, slots=True)
class _Email:
    prompt_id: int
    account_id: str
    customer_id: str | None


async def send_due_reminders(
    db: Database, gateway: StripeGateway | None, settings: Settings, *, now: datetime
) -> int:
    """Emit every reminder due at ``now`` (and send its email when configured, which needs
    ``gateway``); how many reminder events were emitted."""
    _check_email_gateway(gateway, settings)
    # Expiries time alone made due open their episodes first, due at once.
    await expiries.announce_expiring(db, now=now)
    sent = 0
    seen: set[int] = set()
    while True:
        async with db.connection() as conn:
            due = await repository.due(conn, now=now, limit=_BATCH)
        fresh = [
            (episode_id, account_id) for episode_id, account_id in due if episode_id not in seen
        ]
        for episode_id, account_id in fresh:
            seen.add(episode_id)
            # Read before the claim: an account that recovers meanwhile closes the episode,
            # and the claim then finds nothing to do.
            account = await accounts_service.find(db, account_id=account_id, at=now)
            async with db.transaction() as conn:
                episode = await repository.claim(conn, episode_id=episode_id, now=now)
                if episode is None:
                    continue
                emitted, emails = await _remind(conn, episode, account, settings, now=now)
            REMINDERS.labels(episode.kind.value).inc(emitted)
            sent += emitted
            for email in emails:
                assert gateway is not None  # _check_email_gateway: emails come with one
                await _send_email(db, gateway, settings, email)
        if len(due) < _BATCH or not fresh:
            return sent


async def _remind(
    conn: Connection,
    episode: Episode,
    account: AccountRow | None,
    settings: Settings,
    *,
    now: datetime,
) -> tuple[int, list[_Email]]:
    schedule_slots = slots(
        episode.kind,
        broken_at=episode.broken_at,
        expected_at=episode.expected_at,
        broken_days=settings.reminder_broken_days,
        expiring_days=settings.reminder_expiring_days,
    )
    decided = plan(schedule_slots, covered_through=episode.covered_through, now=now)
    emails: list[_Email] = []
    emitted = 0
    event_type, health = _EVENT[episode.kind]
    # A reminder only while the account still needs what it reminds of (an `unknown`
    # status, say, waits for Stripe's next word).
    current = account is not None and account.link_health is health
    if decided.send is not None and account is not None and current:
        reminder = Reminder(
            episode.kind,
            decided.send.number,
            decided.send.of,
            broken_since=episode.broken_at,
            expected_at=episode.expected_at,
        )
        event_id = await outbox.emit(
            conn,
            event_type,
            account_event(event_type, account, previous=health, reminder=reminder),
            at=now,
            account_id=account.id,
            customer_id=account.customer_id,
        )
        prompt_id = await repository.add_prompt(
            conn,
            episode_id=episode.id,
            event_id=event_id,
            schedule=episode.kind,
            number=decided.send.number,
            of=decided.send.of,
            sent_at=now,
            email="pending" if settings.reminder_email else None,
        )
        emitted = 1
        if settings.reminder_email:
            emails.append(_Email(prompt_id, account.id, account.customer_id))
    elif (
        not episode.planned
        and settings.reminder_email
        and current
        and covered(schedule_slots, episode.covered_through) is not None
    ):
        # The transition event was the first reminder: its email goes with the first look.
        transition = await repository.email_transition(conn, episode_id=episode.id)
        if transition is not None:
            emails.append(_Email(transition, episode.account_id, episode.customer_id))
    await repository.planned(
        conn,
        episode_id=episode.id,
        covered_through=decided.covered_through,
        next_at=decided.next_at,
    )
    return emitted, emails


async def _send_email(
    db: Database, gateway: StripeGateway, settings: Settings, email: _Email
) -> None:
    """Have Stripe email the customer a hosted relink, exactly as an operator's
    ``relink-email`` does; record what happened."""
    session_id: str | None = None
    error: str | None = None
    if email.customer_id is None:
        error = "The account belongs to no customer, so there is nobody to email."
    else:
        try:
            created = await relink_creation.new_session(
                db,
                gateway,
                settings,
                principal=Principal(customer_id=email.customer_id, subject="reminders"),
                request=RelinkSessionCreateHosted(
                    account_id=email.account_id,
                    scope=RelinkScope.account,
                    ui_mode=UiMode.hosted,
                    delivery=Delivery.email,
                ),
                claim=None,
            )
            session_id = created.id
        except asyncio.CancelledError:
            raise
        except ProblemError as exc:
            error = f"{exc.title}: {exc.detail}"
        except Exception as exc:
            # Whatever failed, the reminder event is already committed: record, go on.
            logger.exception("reminder email for account %s failed", email.account_id)
            error = type(exc).__name__
    if error is not None:
        logger.warning("reminder email for account %s not sent: %s", email.account_id, error)
    async with db.transaction() as conn:
        await repository.email_result(
            conn,
            prompt_id=email.prompt_id,
            state="sent" if session_id is not None else "failed",
            relink_session_id=session_id,
            error=error,
        )
