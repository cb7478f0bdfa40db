"""Credentials for callers: ``relink-api token`` (a customer's bearer token) and
``relink-api admin-key`` (an operator's API key)."""

from __future__ import annotations

import click
from pydantic import SecretStr

from relink_api.cli.config import ConfigProblem, load_settings


@click.command()
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


@click.command(name="admin-key")
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
