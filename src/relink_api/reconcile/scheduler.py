"""Reconciliation inside the server, on an interval (off unless configured)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from relink_api.db import Database
from relink_api.errors import ProblemError
from relink_api.gateway.client import StripeGateway
from relink_api.ratelimit.service import stripe_budget
from relink_api.reconcile.service import settle_unfinished, sync_accounts
from relink_api.settings import Settings

logger = logging.getLogger(__name__)


async def run_periodically(db: Database, gateway: StripeGateway, settings: Settings) -> None:
    """Settle unfinished relinks and sync due accounts every ``sync_interval_seconds`` until
    cancelled."""
    budget = stripe_budget(db, settings)
    while True:
        await asyncio.sleep(settings.sync_interval_seconds)
        # One pace for the whole round, counting every HTTP attempt (retries included);
        # the round waits for its turn at the shared Stripe budget rather than fail.
        paced = gateway.paced(settings.sync_requests_per_second, budget=budget.in_background)
        try:
            settled = await settle_unfinished(db, paced)
            summary = await sync_accounts(
                db,
                paced,
                stale_after=timedelta(seconds=settings.sync_stale_after_seconds),
                healthy_stale_after=timedelta(seconds=settings.sync_healthy_stale_after_seconds),
                concurrency=settings.sync_concurrency,
            )
        except asyncio.CancelledError:
            raise
        except ProblemError as exc:
            # The database restarting, say: one bad round must not stop later rounds.
            logger.warning("scheduled sync failed: %s", exc.detail)
            continue
        except Exception:
            logger.exception("scheduled sync failed")
            continue
        if settled.sessions or settled.setups or settled.canceled or settled.failed:
            logger.info(
                "scheduled sync: settled %d relink sessions and %d payment setups, canceled "
                "%d superseded SetupIntents at Stripe, failed %d",
                settled.sessions,
                settled.setups,
                settled.canceled,
                settled.failed,
            )
        if summary.checked or summary.stopped:
            logger.info(
                "scheduled sync: checked %d, changed %d, failed %d%s",
                summary.checked,
                summary.changed,
                summary.failed,
                f"; stopped early: {summary.stopped}" if summary.stopped else "",
            )
