"""``relink-api`` commands: serve, migrate, import, token, admin-key, openapi."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import AliasChoices, SecretStr, ValidationError

from relink_api.gateway.objects import INACTIVE_CAUSES
from relink_api.logs import configure_logging
from relink_api.settings import ConfigurationError, Settings

T = TypeVar("T")
DEFAULT_OPENAPI_PATH = Path("openapi/openapi.json")


class ConfigProblem(click.ClickException):
    """Configuration that cannot run: one sentence, exit status 2, no usage banner."""

    exit_code = 2


def _env_name(field: str) -> str:
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return f"RELINK_{field.upper()}"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (``overrides`` win, and are validated alike), or a
    one-sentence error and exit status 2."""
    try:
        return Settings(**overrides)
    except ConfigurationError as exc:
        raise ConfigProblem(str(exc)) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{_env_name(str(error['loc'][0]))}: {error['msg']}" if error["loc"] else error["msg"]
            for error in exc.errors()
        )
        raise ConfigProblem(f"Invalid configuration: {problems}.") from None


def _run(coroutine_factory: Callable[[], Awaitable[T]]) -> T:
    async def runner() -> T:
        return await coroutine_factory()

    try:
        return asyncio.run(runner())
    except ConfigurationError as exc:
        # A database that cannot be opened, say: one sentence, as for a bad setting.
        raise ConfigProblem(str(exc)) from None


@click.group()
@click.version_option(package_name="relink-api")
def main() -> None:
    """relink-api: keeps Stripe Financial Connections bank links alive."""


@main.command()
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
def serve(host: str | None, port: int | None, sandbox_mode: bool) -> None:
    """Start the HTTP server (migrations run at start-up)."""
    from relink_api.app import create_app, open_database
    from relink_api.server import BindError, bind_socket
    from relink_api.server import serve as serve_app

    settings = load_settings(sandbox=True) if sandbox_mode else load_settings()
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
    configure_logging(settings.log_level)
    bind_host = host or settings.host
    bind_port = port or settings.port
    if settings.sandbox:
        from relink_api.sandbox.setup import sandbox_settings

        try:
            settings = sandbox_settings(settings, host=bind_host, port=bind_port)
        except ConfigurationError as exc:
            raise ConfigProblem(str(exc)) from None
    if settings.database_url is not None:
        # Open it once before serving, so that a wrong address or password is one sentence
        # here rather than a traceback from inside the server's start-up.
        async def check_database() -> None:
            await (await open_database(settings)).close()

        _run(check_database)
    # The port first: a busy one must stop us before anything (the sandbox's banner with
    # its token and admin key, above all) is printed.
    try:
        sock = bind_socket(bind_host, bind_port)
    except BindError as exc:
        raise ConfigProblem(str(exc)) from None
    mode = "SIMULATED (sandbox)" if settings.sandbox else f"{settings.stripe_mode} mode"
    database = "DATABASE_URL" if settings.database_url else f"embedded ({settings.data_dir}/pg)"
    click.echo(
        f"relink-api on http://{bind_host}:{bind_port} · Stripe {mode} · database {database}",
        err=True,
    )
    serve_app(create_app(settings), settings, sock)


@main.command()
def migrate() -> None:
    """Apply pending database migrations and exit."""
    from relink_api.app import connect_database, migrate_database

    settings = load_settings()
    configure_logging(settings.log_level)

    async def go() -> list[str]:
        database = await connect_database(settings)
        try:
            applied = await migrate_database(database, settings)
        finally:
            await database.close()
        return [f"{migration.version:04d}_{migration.name}" for migration in applied]

    applied = _run(go)
    click.echo(f"applied {len(applied)} migration(s)" + "".join(f"\n  {m}" for m in applied))


@main.command()
@click.argument("customer_id")
@click.option("--ttl", type=click.IntRange(60, 86_400), default=3600, show_default=True)
def token(customer_id: str, ttl: int) -> None:
    """Mint a short-lived bearer token for CUSTOMER_ID (with RELINK_AUTH_JWT_SECRET, or a
    sandbox's own token secret from its data folder)."""
    from relink_api.auth import mint_token
    from relink_api.sandbox.setup import stored_secrets

    settings = load_settings()
    if not settings.auth_configured:
        # As a sandbox server does: with no token setting of its own, it signs with the
        # secret it made in its data folder.
        stored = stored_secrets(settings) or {}
        if stored.get("jwt_secret"):
            settings = settings.model_copy(
                update={"auth_jwt_secret": SecretStr(stored["jwt_secret"])}
            )
    if settings.auth_jwt_secret is None:
        raise ConfigProblem(
            "Minting tokens needs RELINK_AUTH_JWT_SECRET (a shared secret), or a sandbox's "
            "data folder (RELINK_DATA_DIR) to take its token secret from."
        )
    click.echo(mint_token(settings, customer_id, ttl_seconds=ttl))


@main.command(name="admin-key")
def admin_key() -> None:
    """Make a new operator API key: prints the key and the setting that lets it in."""
    from relink_api.auth import (
        ADMIN_KEY_DIGEST_ENV,
        ADMIN_KEY_HEADER,
        admin_key_digest,
        generate_admin_key,
    )

    key = generate_admin_key()
    click.echo(key)
    click.echo(f"{ADMIN_KEY_DIGEST_ENV}={admin_key_digest(key)}")
    # Guidance on stderr, so that stdout is exactly the two lines a script wants.
    click.echo(
        f"\nGive the key (first line) to the operator; it goes in the {ADMIN_KEY_HEADER} "
        "header and is shown only now.\nSet the second line on the server; to rotate, "
        "append the new digest with a comma and remove the old one once nothing uses it.",
        err=True,
    )


@main.command(name="import")
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
    from relink_api.app import open_database
    from relink_api.gateway.client import StripeGateway
    from relink_api.ratelimit.service import stripe_budget

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
    settings = load_settings()
    if settings.stripe_secret_key is None:
        raise ConfigProblem("Importing reads from Stripe: set STRIPE_SECRET_KEY.")
    configure_logging(settings.log_level)
    api_key = settings.stripe_secret_key.get_secret_value()

    async def go() -> list[str]:
        lines: list[str] = []
        database = await open_database(settings)
        gateway = StripeGateway(
            settings, api_key=api_key, budget=stripe_budget(database, settings).in_background
        )
        try:
            if customers:
                summary = await service.import_customer_accounts(
                    database, gateway, customer_ids=customers
                )
                lines.append(
                    f"imported {summary.accounts} account(s) of {summary.customers} "
                    f"customer(s); {summary.changed} new or changed"
                )
            if account_id is not None and owner is not None:
                account = await service.assign_account_owner(
                    database, gateway, account_id=account_id, customer_id=owner
                )
                lines.append(f"{account.id} belongs to {owner} ({account.link_health.value})")
        finally:
            await gateway.aclose()
            await database.close()
        return lines

    from relink_api.errors import ProblemError

    try:
        for line in _run(go):
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


@main.command()
@click.option("--customer", "customer_ids", multiple=True, help="Only this customer's accounts.")
@click.option(
    "--stale-after",
    type=click.IntRange(min=0),
    default=None,
    help="Seconds since an account was last confirmed (default RELINK_SYNC_STALE_AFTER_SECONDS;"
    " 0 with --customer re-reads all of that customer's accounts).",
)
def sync(customer_ids: tuple[str, ...], stale_after: int | None) -> None:
    """Settle relinks and payment setups left unfinished, then re-read accounts from Stripe
    and apply what changed. Safe beside the server and other `sync` runs; exits 1 if
    anything failed."""
    from datetime import timedelta

    from relink_api.app import open_database
    from relink_api.errors import ProblemError
    from relink_api.gateway.client import StripeGateway
    from relink_api.ratelimit.service import stripe_budget
    from relink_api.reconcile.service import (
        SettleSummary,
        SyncSummary,
        count_due,
        settle_unfinished,
        sync_accounts,
    )

    settings = load_settings()
    if settings.stripe_secret_key is None:
        raise ConfigProblem("Reconciling reads from Stripe: set STRIPE_SECRET_KEY.")
    configure_logging(settings.log_level)
    # A run that loses its database says so once, in its summary: asyncpg's pool would also
    # log every failed reconnect with a whole traceback.
    logging.getLogger("asyncpg.pool").addFilter(_one_line_errors)
    api_key = settings.stripe_secret_key.get_secret_value()
    age = timedelta(
        seconds=settings.sync_stale_after_seconds if stale_after is None else stale_after
    )
    customers = list(customer_ids) or None
    interactive = sys.stderr.isatty()
    settled = SettleSummary()
    summary = SyncSummary()

    async def go() -> None:
        nonlocal settled, summary
        database = await open_database(settings)
        # The run waits for its turn at the budget every process shares, and keeps its own
        # pace, counting every HTTP attempt (the SDK's retries included).
        budget = stripe_budget(database, settings)
        gateway = StripeGateway(settings, api_key=api_key, budget=budget.in_background)
        paced = gateway.paced(settings.sync_requests_per_second)
        try:
            # First, so relinks that finished at Stripe update their accounts before the
            # accounts are read.
            settled = await settle_unfinished(database, paced, customer_ids=customers)
            click.echo(
                f"settled {settled.sessions} relink sessions, {settled.setups} payment setups, "
                f"failed {settled.failed}"
            )
            total = await count_due(database, customer_ids=customers, stale_after=age)
            with click.progressbar(
                length=total, label="syncing", file=sys.stderr, hidden=not interactive
            ) as bar:
                summary = await sync_accounts(
                    database,
                    paced,
                    customer_ids=customers,
                    stale_after=age,
                    concurrency=settings.sync_concurrency,
                    on_progress=bar.update,
                )
        finally:
            await gateway.aclose()
            await database.close()

    stopped: str | None = None
    try:
        _run(go)
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


@main.command(name="prune-events")
@click.option(
    "--older-than-days",
    type=click.IntRange(min=30),
    default=None,
    help="Default RELINK_WEBHOOK_RETENTION_DAYS (at least 30: Stripe resends for 30 days).",
)
def prune_events(older_than_days: int | None) -> None:
    """Delete webhook events received longer ago than the retention period, idempotency
    keys past their 24 hours, and rate-limit rows whose limits have filled up again."""
    from relink_api.app import open_database
    from relink_api.idempotency.service import purge_expired
    from relink_api.ratelimit.service import prune as prune_rate_limits
    from relink_api.webhooks.service import prune_events as prune

    settings = load_settings()
    configure_logging(settings.log_level)
    days = older_than_days or settings.webhook_retention_days

    async def go() -> tuple[int, int, int]:
        database = await open_database(settings)
        try:
            return (
                await prune(database, retention_days=days),
                await purge_expired(database),
                await prune_rate_limits(database),
            )
        finally:
            await database.close()

    events, keys, limits = _run(go)
    click.echo(
        f"deleted {events} webhook event(s) older than {days} days, "
        f"{keys} expired idempotency key(s) and {limits} idle rate-limit row(s)"
    )


@main.group()
@click.option(
    "--url",
    default=None,
    help="The running sandbox server (default http://RELINK_HOST:RELINK_PORT).",
)
@click.pass_context
def sandbox(ctx: click.Context, url: str | None) -> None:
    """Drive a running sandbox: break and repair links, make demo customers.

    Each change is announced to the app by a signed webhook, as Stripe would. The sandbox's
    admin key, read from its data folder (RELINK_DATA_DIR), goes with each request: a
    sandbox on another host asks for it."""
    from relink_api.auth import ADMIN_KEY_HEADER
    from relink_api.sandbox.setup import stored_secrets

    settings = load_settings()
    if url is None:
        url = settings.public_base_url or f"http://{settings.host}:{settings.port}"
    key = (stored_secrets(settings) or {}).get("admin_api_key")
    ctx.obj = SandboxTarget(url.rstrip("/"), {ADMIN_KEY_HEADER: key} if key else {})


@dataclass(frozen=True, slots=True)
class SandboxTarget:
    """A running sandbox and the headers that let this command in."""

    url: str
    headers: dict[str, str]


def _control(
    target: SandboxTarget, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    import httpx

    url = target.url
    try:
        response = httpx.post(
            f"{url}/sandbox/control{path}", json=body, headers=target.headers, timeout=30
        )
    except httpx.HTTPError as exc:
        raise click.ClickException(f"No sandbox answers at {url} ({type(exc).__name__}).") from None
    if response.status_code == 404 and "application/json" not in response.headers.get(
        "content-type", ""
    ):
        raise click.ClickException(f"{url} is not a relink-api sandbox.")
    payload: dict[str, Any] = response.json()
    if response.status_code >= 400:
        error = payload.get("error") or {}
        message = error.get("message") or payload.get("detail") or response.text
        raise click.ClickException(str(message))
    # Deliver the webhook now, so the app's state has moved when the command returns.
    httpx.post(f"{url}/sandbox/control/outbox/flush", headers=target.headers, timeout=30)
    return payload


def _target(object_id: str) -> str:
    if object_id.startswith("fcauth_"):
        return f"/authorizations/{object_id}"
    if object_id.startswith("fca_"):
        return f"/accounts/{object_id}"
    raise click.BadParameter("give an account (fca_…) or an authorization (fcauth_…)")


@sandbox.command(name="demo-customer")
@click.pass_obj
def sandbox_demo_customer(target: SandboxTarget) -> None:
    """Create a customer with the demo accounts and print their page URL."""
    created = _control(target, "/demo-customers")
    click.echo(f"customer {created['customer_id']}")
    for role, account_id in created["accounts"].items():
        click.echo(f"  {role:<24} {account_id}")
    click.echo(created["page_url"])


@sandbox.command(name="deactivate")
@click.argument("object_id")
@click.option(
    "--cause",
    default="access_expired",
    show_default=True,
    type=click.Choice(INACTIVE_CAUSES),
)
@click.option(
    "--action",
    default="relink_required",
    show_default=True,
    type=click.Choice(["relink_required", "none"]),
)
@click.pass_obj
def sandbox_deactivate(target: SandboxTarget, object_id: str, cause: str, action: str) -> None:
    """Make an account (fca_…) or a whole authorization (fcauth_…) inactive."""
    _control(target, f"{_target(object_id)}/deactivate", {"cause": cause, "action": action})
    click.echo(f"{object_id} deactivated ({cause}, action {action})")


@sandbox.command(name="reactivate")
@click.argument("object_id")
@click.pass_obj
def sandbox_reactivate(target: SandboxTarget, object_id: str) -> None:
    """Make an account (fca_…) or a whole authorization (fcauth_…) active again."""
    _control(target, f"{_target(object_id)}/reactivate")
    click.echo(f"{object_id} reactivated")


@sandbox.command(name="expected-deactivation")
@click.argument("account_id")
@click.argument("date", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.pass_obj
def sandbox_expected_deactivation(target: SandboxTarget, account_id: str, date: Any) -> None:
    """Warn that ACCOUNT_ID will become inactive on DATE (YYYY-MM-DD)."""
    day = date.date().isoformat()
    _control(target, f"/accounts/{account_id}/expected-deactivation", {"date": day})
    click.echo(f"{account_id} expected to deactivate on {day}")


def render_openapi() -> str:
    """The OpenAPI document, byte-for-byte deterministic."""
    from relink_api.app import create_app

    document: dict[str, Any] = create_app(Settings.model_construct()).openapi()
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@main.command()
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_OPENAPI_PATH
)
@click.option("--check", is_flag=True, help="Exit 1 if the file differs instead of writing.")
def openapi(output: Path, check: bool) -> None:
    """Write the OpenAPI document (deterministic: sorted keys, two-space indent)."""
    document = render_openapi()
    if check:
        current = output.read_text() if output.exists() else ""
        if current != document:
            click.echo(f"{output} is stale; run `relink-api openapi`.", err=True)
            sys.exit(1)
        click.echo(f"{output} is up to date.")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(document)
    click.echo(f"wrote {output}")
