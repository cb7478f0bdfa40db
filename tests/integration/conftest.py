"""Fixtures shared by the integration tests that run the sandbox in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import stripe

from tests.sandbox_server import RunningSandbox, running_sandbox


@pytest.fixture
async def sandbox(database_url: str, tmp_path: Path) -> AsyncIterator[RunningSandbox]:
    """The app in sandbox mode on a real port, with its own data folder."""
    async with running_sandbox(database_url, tmp_path / "data") as running:
        yield running


@pytest.fixture
async def sdk(sandbox: RunningSandbox) -> AsyncIterator[stripe.StripeClient]:
    """The SDK's own client, pointed at the sandbox the documented way (docs/stripe.md §8)."""
    http_client = stripe.HTTPXClient()
    client = stripe.StripeClient(
        sandbox.secret_key,
        http_client=http_client,
        stripe_version=sandbox.settings.stripe_api_version,
        base_addresses={"api": sandbox.base_url + "/sandbox/stripe"},
    )
    yield client
    await http_client.close_async()  # type: ignore[no-untyped-call]
