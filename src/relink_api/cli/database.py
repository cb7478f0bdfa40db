"""Database upkeep: ``relink-api migrate`` and ``relink-api prune-events``."""

from __future__ import annotations

import click

from relink_api.cli.config import load_settings
from relink_api.cli.resources import Resources, run


@click.command()
def migrate() -> None:
    """Apply pending database migrations and exit."""

    async def applied(opened: Resources) -> list[str]:
        return [f"{migration.version:04d}_{migration.name}" for migration in opened.migrations]

    names = run(load_settings(), applied)
    click.echo(f"applied {len(names)} migration(s)" + "".join(f"\n  {m}" for m in names))


@click.command(name="prune-events")
@click.option(
    "--older-than-days",
    type=click.IntRange(min=30),
    default=None,
    help="Default RELINK_WEBHOOK_RETENTION_DAYS (at least 30: Stripe resends for 30 days).",
)
def prune_events(older_than_days: int | None) -> None:
    """Delete webhook events received longer ago than the retention period, idempotency
    keys past their 24 hours, and rate-limit rows whose limits have filled up again."""
    from relink_api.idempotency.service import purge_expired
    from relink_api.ratelimit.service import prune as prune_rate_limits
    from relink_api.webhooks.service import prune_events as prune

    settings = load_settings()
    days = older_than_days or settings.webhook_retention_days

    async def go(opened: Resources) -> tuple[int, int, int]:
        return (
            await prune(opened.database, retention_days=days),
            await purge_expired(opened.database),
            await prune_rate_limits(opened.database),
        )

    events, keys, limits = run(settings, go)
    click.echo(
        f"deleted {events} webhook event(s) older than {days} days, "
        f"{keys} expired idempotency key(s) and {limits} idle rate-limit row(s)"
    )
