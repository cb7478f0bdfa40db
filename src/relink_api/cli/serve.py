"""``relink-api serve``: the HTTP server, against Stripe or the offline sandbox."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import click

from relink_api.cli.config import ConfigProblem, load_settings
from relink_api.cli.resources import Resources, run
from relink_api.serving.settings import MAX_WORKERS
from relink_api.settings import ConfigurationError


async def _opened_once(_: Resources) -> None:
    """Nothing to do: opening (and closing) the database was the check."""


def _pools_fit(workers: int) -> Callable[[Resources], Awaitable[None]]:
    """The check that ``workers`` pools fit in the server's connections."""

    async def check(opened: Resources) -> None:
        from relink_api.serving.connections import connections_problem, server_connection_limits

        max_connections, reserved = await server_connection_limits(opened.database)
        problem = connections_problem(
            workers,
            opened.settings.db_pool_max_size,
            max_connections=max_connections,
            reserved=reserved,
        )
        if problem is not None:
            raise ConfigProblem(problem)

    return check


@click.command()
@click.option("--host", default=None, help="Address to bind (default RELINK_HOST).")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Port (default RELINK_PORT)."
)
@click.option(
    "--sandbox",
    "sandbox_mode",
    is_flag=True,
    help="Simulate Stripe offline, with keys of its own (as RELINK_SANDBOX=true); loopback "
    "only unless RELINK_SANDBOX_ALLOW_REMOTE=true.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_WORKERS),
    default=None,
    help="Processes answering on the port (default RELINK_WORKERS, 1); see docs/deploy.md.",
)
def serve(host: str | None, port: int | None, sandbox_mode: bool, workers: int | None) -> None:
    """Start the HTTP server (migrations run at start-up)."""
    from relink_api.metrics.directory import multiprocess_dir_problem

    # Before anything that records a metric is imported.
    problem = multiprocess_dir_problem()
    if problem is not None:
        raise ConfigProblem(problem)

    from relink_api.app import create_app
    from relink_api.server import BindError, bind_socket
    from relink_api.server import serve as serve_app

    settings = load_settings(sandbox=True) if sandbox_mode else load_settings()
    workers = workers or settings.workers
    if workers > 1 and settings.sandbox:
        raise ConfigProblem(
            "The sandbox runs in one process: serve it without --workers (or RELINK_WORKERS)."
        )
    if settings.stripe_secret_key is None and not settings.sandbox:
        # Never a sandbox by accident: its controls act for every customer.
        raise ConfigProblem(
            "relink-api has no Stripe keys to serve with: set STRIPE_SECRET_KEY, "
            "STRIPE_PUBLISHABLE_KEY and RELINK_AUTH_JWT_SECRET to use Stripe, or ask for the "
            "offline sandbox with `relink-api serve --sandbox` (or RELINK_SANDBOX=true)."
        )
    missing = settings.missing_for_serving()
    if missing:
        lines = "\n".join(f"  - {item}" for item in missing)
        raise ConfigProblem(
            "relink-api cannot serve against Stripe yet; set these environment variables "
            "(or unset STRIPE_SECRET_KEY and run the offline sandbox with "
            f"`relink-api serve --sandbox`):\n{lines}"
        )
    bind_host = host or settings.host
    bind_port = port or settings.port
    if settings.sandbox:
        from relink_api.sandbox.setup import sandbox_settings

        try:
            settings = sandbox_settings(settings, host=bind_host, port=bind_port)
        except ConfigurationError as exc:
            raise ConfigProblem(str(exc)) from None
    # DATABASE_URL is opened once before serving, so that a wrong address or password is one
    # sentence here rather than a traceback from inside the server's start-up. (The embedded
    # server is started by the app's lifespan; with several workers, here, once, with the
    # migrations, and the workers join it.)
    if workers == 1:
        run(settings, _opened_once, database=settings.database_url is not None)
    else:
        run(settings, _pools_fit(workers))
    # The port first: a busy one must stop us before anything (the sandbox's banner with
    # its token and admin key, above all) is printed.
    try:
        sock = bind_socket(bind_host, bind_port)
    except BindError as exc:
        raise ConfigProblem(str(exc)) from None
    mode = "SIMULATED (sandbox)" if settings.sandbox else f"{settings.stripe_mode} mode"
    database = "DATABASE_URL" if settings.database_url else f"embedded ({settings.data_dir}/pg)"
    # A log line (JSON in production), where the lines that follow it go.
    logging.getLogger(__name__).info(
        "relink-api on http://%s:%s · Stripe %s · database %s · %d worker(s)",
        bind_host,
        bind_port,
        mode,
        database,
        workers,
    )
    if workers == 1:
        serve_app(create_app(settings), settings, sock)
        return
    from relink_api.serving.supervisor import serve_with_workers

    serve_with_workers(settings, sock, workers)
