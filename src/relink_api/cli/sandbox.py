"""``relink-api sandbox …``: drive a running sandbox over HTTP, as Stripe's dashboard and
webhooks would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from relink_api.cli.config import load_settings
from relink_api.gateway.objects import INACTIVE_CAUSES


@dataclass(frozen=True, slots=True)
class SandboxTarget:
    """A running sandbox and the headers that let this command in."""

    url: str
    headers: dict[str, str]


@click.group()
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
