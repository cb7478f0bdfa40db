"""``relink-api openapi``: the OpenAPI document, written or checked."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from relink_api.settings import Settings

DEFAULT_OPENAPI_PATH = Path("openapi/openapi.json")


def render_openapi() -> str:
    """The OpenAPI document, byte-for-byte deterministic."""
    from relink_api.app import create_app

    document: dict[str, Any] = create_app(Settings.model_construct()).openapi()
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@click.command()
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
