"""``relink-api worker``: the queue workers (outbound deliveries, reminders) as a process of
their own, beside or instead of the ones inside each server, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import click

from relink_api.cli.config import ConfigProblem, load_settings
from relink_api.cli.resources import Resources, run
from relink_api.settings import Settings

logger = logging.getLogger(__name__)


async def _work_until_stopped(opened: Resources, deliveries: int) -> None:
    from relink_api.outbound.worker import delivery_loops
    from relink_api.prompts.scheduler import reminder_loops

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # Everything a worker process runs; more queues join this list.
    settings = opened.settings
    gateway = opened.stripe if _emails(settings) else None
    reminders = reminder_loops(opened.database, gateway, settings)
    loops = [*delivery_loops(opened.database, settings, deliveries), *reminders]
    tasks = [asyncio.create_task(coroutine, name=name) for name, coroutine in loops]
    logger.info(
        "relink-api worker: %d outbound delivery loop(s) running%s",
        deliveries,
        ", and the reminder loop" if reminders else "",
    )
    try:
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopped:
                task.result()  # a loop only ends by raising: stop the process with it
    finally:
        for task in [*tasks, stopped]:
            task.cancel()
        for task in [*tasks, stopped]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    logger.info("relink-api worker stopped")


def _emails(settings: Settings) -> bool:
    """Whether this worker sends reminder emails, and so calls Stripe."""
    return settings.reminder_email and settings.reminder_interval_seconds > 0


@click.command()
@click.option(
    "--deliveries",
    type=click.IntRange(1, 64),
    default=None,
    help="Outbound delivery loops in this process (default RELINK_OUTBOUND_WORKERS, at least 1).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve this process's Prometheus metrics on this port (docs/metrics.md); none by default.",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address the metrics port listens on: loopback unless a scraper elsewhere needs it.",
)
def worker(deliveries: int | None, metrics_port: int | None, metrics_host: str) -> None:
    """Deliver outbound events to the host application's endpoints, and send reminders
    (unless RELINK_REMINDER_INTERVAL_SECONDS=0), until SIGTERM/SIGINT (migrations run at
    start-up, as for `serve`)."""
    from relink_api.metrics.directory import multiprocess_dir_problem

    # Before anything that records a metric is imported.
    problem = multiprocess_dir_problem()
    if problem is not None:
        raise ConfigProblem(problem)
    from relink_api.metrics.standalone import serve_metrics

    settings = load_settings()
    count = deliveries or max(1, settings.outbound_workers)
    metrics = None
    if metrics_port is not None:
        try:
            metrics = serve_metrics(metrics_host, metrics_port)
        except OSError as exc:
            raise ConfigProblem(
                f"Cannot serve metrics on {metrics_host}:{metrics_port}: {exc.strerror or exc}."
            ) from None
        logger.info("relink-api worker: metrics on http://%s:%d/", metrics_host, metrics.port)
    try:
        run(
            settings,
            lambda opened: _work_until_stopped(opened, count),
            stripe="reminder emails (RELINK_REMINDER_EMAIL)" if _emails(settings) else None,
        )
    finally:
        if metrics is not None:
            metrics.stop()
