"""The ACH mandate names the business that debits the account (RELINK_BUSINESS_NAME): a real
deployment without one refuses payment setup, naming the setting, before Stripe is asked for
anything; the sandbox's demo names a shop of its own."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import respx

from relink_api.payments.setup import mandate_text
from relink_api.sandbox.setup import SANDBOX_BUSINESS_NAME, sandbox_settings
from relink_api.settings import Settings
from tests.conftest import Seed, make_settings
from tests.integration.test_payment_methods import (
    SETUP_INTENTS,
    mock_existing_methods,
    new_account_session,
    start,
)
from tests.support import assert_problem


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, business_name=None)


async def test_payment_setup_without_a_business_name_is_a_500_naming_the_setting(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    session_id = await new_account_session(client, stripe_mock, seed, auth_a)
    listed = mock_existing_methods(stripe_mock)
    created = stripe_mock.post(SETUP_INTENTS)

    response = await start(client, session_id, auth_a)

    problem = assert_problem(response, 500, "internal-error")
    assert "RELINK_BUSINESS_NAME" in problem["detail"]
    assert "this business" not in response.text
    assert not created.called
    assert not listed.called


def test_the_sandbox_demo_names_its_shop_unless_the_operator_did(tmp_path: Path) -> None:
    demo = sandbox_settings(Settings(data_dir=tmp_path), host="127.0.0.1", port=8000)
    own = sandbox_settings(
        Settings(data_dir=tmp_path, business_name="Rosen Bakery"), host="127.0.0.1", port=8000
    )

    assert demo.business_name == SANDBOX_BUSINESS_NAME
    assert mandate_text(demo).startswith(
        f"By clicking Accept, you authorize {SANDBOX_BUSINESS_NAME}"
    )
    assert "this business" not in mandate_text(demo)
    assert own.business_name == "Rosen Bakery"
