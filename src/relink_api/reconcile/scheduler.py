"""Reconciliation inside the server, on an interval (off unless configured)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from relink_api.db import Database
from relink_api.reconcile.service import settle_unfinished, sync_accounts
from relink_api.settings import Settings
from relink_api.stripe_gateway import StripeGateway

logger = logging.getLogger(__name__)


async def run_periodically(db: Database, gateway: StripeGateway, settings: Settings) -> None:
    """Settle unfinished relinks and sync due accounts every ``sync_interval_seconds`` until
    cancelled."""
    while True:
        await asyncio.sleep(settings.sync_interval_seconds)
        try:
            settled = await settle_unfinished(
                db, gateway, requests_per_second=settings.sync_requests_per_second
            )
            summary = await sync_accounts(
                db,
                gateway,
                stale_after=timedelta(seconds=settings.sync_stale_after_seconds),
                concurrency=settings.sync_concurrency,
                requests_per_second=settings.sync_requests_per_second,
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            # One bad round (database restarting, say) must not stop later rounds.
            logger.exception("scheduled sync failed")
            continue
        if settled.sessions or settled.setups or settled.failed:
            logger.info(
                "scheduled sync: settled %d relink sessions and %d payment setups, failed %d",
                settled.sessions,
                settled.setups,
                settled.failed,
            )
        if summary.checked:
            logger.info(
                "scheduled sync: checked %d, changed %d, failed %d",
                summary.checked,
                summary.changed,
                summary.failed,
            )
