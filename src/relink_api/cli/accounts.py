"""Accounts read from Stripe: ``relink-api import`` registers existing ones, ``relink-api
sync`` settles what was left unfinished and re-reads what is stale."""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from pathlib import Path

import click

from relink_api.cli.config import load_settings
from relink_api.cli.resources import Resources, run
from relink_api.errors import ProblemError


@click.command(name="import")
@click.argument("customer_ids", nargs=-1)
@click.option(
    "--file",
    "customers_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of customer ids, one a line (# starts a comment).",
)
@click.option("--account", "account_id", help="An FC account Stripe holds without a holder.")
@click.option("--customer", "owner", help="With --account: the customer who owns it.")
def import_accounts(
    customer_ids: tuple[str, ...],
    customers_file: Path | None,
    account_id: str | None,
    owner: str | None,
) -> None:
    """Register existing FC accounts: every account of the given customers, or one
    holder-less account with --account and --customer."""
    from relink_api.accounts import service

    if (account_id is None) != (owner is None):
        raise click.UsageError("--account and --customer go together.")
    customers = list(customer_ids)
    if customers_file is not None:
        for line in customers_file.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                customers.append(line)
    if not customers and account_id is None:
        raise click.UsageError("Name customers (arguments or --file), or --account/--customer.")

    async def go(opened: Resources) -> list[str]:
        lines: list[str] = []
        if customers:
            summary = await service.import_customer_accounts(
                opened.database, opened.stripe, customer_ids=customers
            )
            lines.append(
                f"imported {summary.accounts} account(s) of {summary.customers} "
                f"customer(s); {summary.changed} new or changed"
            )
        if account_id is not None and owner is not None:
            account = await service.assign_account_owner(
                opened.database, opened.stripe, account_id=account_id, customer_id=owner
            )
            lines.append(f"{account.id} belongs to {owner} ({account.link_health.value})")
        return lines

    try:
        for line in run(load_settings(), go, stripe="Importing reads from Stripe"):
            click.echo(line)
    except ProblemError as exc:
        raise click.ClickException(exc.detail) from None


def _one_line_errors(record: logging.LogRecord) -> bool:
    """Log filter: the exception's type and message in place of its traceback."""
    if record.exc_info is not None and record.exc_info[1] is not None:
        error = record.exc_info[1]
        record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
        record.args = None
        record.exc_info = None
        record.exc_text = None
    return True


@click.command()
@click.option("--customer", "customer_ids", multiple=True, help="Only this customer's accounts.")
@click.option(
    "--stale-after",
    type=click.IntRange(min=0),
    default=None,
    help="Re-read every account not confirmed for this many seconds (default: those needing "
    "attention after RELINK_SYNC_STALE_AFTER_SECONDS, the others after "
    "RELINK_SYNC_HEALTHY_STALE_AFTER_SECONDS; 0 with --customer re-reads all of that "
    "customer's accounts).",
)
def sync(customer_ids: tuple[str, ...], stale_after: int | None) -> None:
    """Settle relinks and payment setups left unfinished, then re-read accounts from Stripe
    (those needing attention first) and apply what changed. Safe beside the server and
    other `sync` runs; exits 1 if anything failed."""
    from relink_api.reconcile.service import (
        SettleSummary,
        SyncSummary,
        count_due,
        settle_unfinished,
        sync_accounts,
    )

    settings = load_settings()
    # A run that loses its database says so once, in its summary: asyncpg's pool would also
    # log every failed reconnect with a whole traceback.
    logging.getLogger("asyncpg.pool").addFilter(_one_line_errors)
    # Given, one age for every account; by default accounts needing attention first and
    # healthy ones on their slower cycle.
    if stale_after is None:
        age = timedelta(seconds=settings.sync_stale_after_seconds)
        healthy_age = timedelta(seconds=settings.sync_healthy_stale_after_seconds)
    else:
        age = healthy_age = timedelta(seconds=stale_after)
    customers = list(customer_ids) or None
    interactive = sys.stderr.isatty()
    settled = SettleSummary()
    summary = SyncSummary()

    async def go(opened: Resources) -> None:
        nonlocal settled, summary
        # The run waits for its turn at the budget every process shares, and keeps its own
        # pace, counting every HTTP attempt (the SDK's retries included).
        paced = opened.stripe.paced(settings.sync_requests_per_second)
        # First, so relinks that finished at Stripe update their accounts before the
        # accounts are read.
        settled = await settle_unfinished(opened.database, paced, customer_ids=customers)
        click.echo(
            f"settled {settled.sessions} relink sessions, {settled.setups} payment setups, "
            f"failed {settled.failed}"
        )
        total = await count_due(
            opened.database,
            customer_ids=customers,
            stale_after=age,
            healthy_stale_after=healthy_age,
        )
        with click.progressbar(
            length=total, label="syncing", file=sys.stderr, hidden=not interactive
        ) as bar:
            summary = await sync_accounts(
                opened.database,
                paced,
                customer_ids=customers,
                stale_after=age,
                healthy_stale_after=healthy_age,
                concurrency=settings.sync_concurrency,
                on_progress=bar.update,
            )

    stopped: str | None = None
    try:
        run(settings, go, stripe="Reconciling reads from Stripe")
    except ProblemError as exc:
        # The database went away between steps: what was done still counts.
        stopped = exc.detail
    stopped = stopped or summary.stopped
    click.echo(
        f"checked {summary.checked}, changed {summary.changed}, "
        f"failed {summary.failed + settled.failed}"
    )
    if stopped is not None:
        click.echo(f"sync stopped early: {stopped}", err=True)
    if stopped is not None or summary.failed or settled.failed:
        sys.exit(1)
