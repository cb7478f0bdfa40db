"""``relink-api``: the command group and the commands in it."""

from __future__ import annotations

import click

from relink_api.cli.accounts import import_accounts, sync
from relink_api.cli.credentials import admin_key, token
from relink_api.cli.database import migrate, prune_events
from relink_api.cli.openapi import openapi
from relink_api.cli.sandbox import sandbox
from relink_api.cli.serve import serve
from relink_api.cli.worker import worker


@click.group()
@click.version_option(package_name="relink-api")
def main() -> None:
    """relink-api: keeps Stripe Financial Connections bank links alive."""


for command in (
    serve,
    worker,
    migrate,
    token,
    admin_key,
    import_accounts,
    sync,
    prune_events,
    sandbox,
    openapi,
):
    main.add_command(command)
