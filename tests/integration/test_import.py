"""Onboarding: import a business's existing accounts, and owners of holder-less accounts."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest
import respx
from click.testing import CliRunner

from relink_api.accounts import service
from relink_api.cli.main import main
from relink_api.db import Database
from relink_api.errors import Conflict
from relink_api.gateway.client import StripeGateway
from relink_api.settings import Settings
from tests.conftest import JWT_SECRET, bearer
from tests.factories import API, account_list, fc_account

ACCOUNTS = "/v1/financial_connections/accounts"


async def test_import_pages_through_every_account_of_each_customer(
    settings: Settings,
    db: Database,
    stripe_mock: respx.MockRouter,
    client: httpx.AsyncClient,
) -> None:
    page_one = [fc_account(f"fca_{n}", status="active") for n in range(1, 3)]
    page_two = [fc_account("fca_3", status="inactive", action="relink_required")]

    def list_accounts(request: httpx.Request) -> httpx.Response:
        query = dict(parse_qsl(request.url.query.decode()))
        assert query["account_holder[customer]"] == "cus_A"
        assert query["limit"] == "100"
        if "starting_after" not in query:
            return httpx.Response(200, json=account_list(page_one, has_more=True))
        assert query["starting_after"] == "fca_2"
        return httpx.Response(200, json=account_list(page_two))

    route = stripe_mock.get(ACCOUNTS).mock(side_effect=list_accounts)
    gateway = StripeGateway(settings, api_key="sk_test_relink123")
    try:
        first = await service.import_customer_accounts(db, gateway, customer_ids=["cus_A", "cus_A"])
        again = await service.import_customer_accounts(db, gateway, customer_ids=["cus_A"])
    finally:
        await gateway.aclose()

    assert route.call_count == 4
    assert (first.customers, first.accounts, first.changed) == (1, 3, 3)
    assert (again.accounts, again.changed) == (3, 0)
    listed = await client.get("/v1/accounts", headers=bearer(settings, "cus_A"))
    assert [a["id"] for a in listed.json()["data"]] == ["fca_1", "fca_2", "fca_3"]
    assert listed.json()["data"][2]["link_health"] == "relink_required"
    async with db.connection() as conn:
        sources = await conn.fetch("SELECT DISTINCT source FROM account_status_history")
    assert [row["source"] for row in sources] == ["import"]


async def test_a_holderless_account_gets_the_owner_an_operator_names(
    settings: Settings,
    db: Database,
    stripe_mock: respx.MockRouter,
    client: httpx.AsyncClient,
) -> None:
    stripe_mock.get(f"{ACCOUNTS}/fca_loose").respond(
        200, json=fc_account("fca_loose", customer=None, status="inactive")
    )
    gateway = StripeGateway(settings, api_key="sk_test_relink123")
    try:
        account = await service.assign_account_owner(
            db, gateway, account_id="fca_loose", customer_id="cus_A"
        )
    finally:
        await gateway.aclose()

    assert account.id == "fca_loose"
    owner = await client.get("/v1/accounts/fca_loose", headers=bearer(settings, "cus_A"))
    stranger = await client.get("/v1/accounts/fca_loose", headers=bearer(settings, "cus_B"))
    assert owner.status_code == 200
    assert stranger.status_code == 404
    async with db.connection() as conn:
        assert (
            await conn.fetchval("SELECT owner_source FROM accounts WHERE id = 'fca_loose'")
            == "operator"
        )


async def test_an_account_stripe_holds_for_another_customer_cannot_be_assigned(
    settings: Settings, db: Database, stripe_mock: respx.MockRouter
) -> None:
    stripe_mock.get(f"{ACCOUNTS}/fca_held").respond(
        200, json=fc_account("fca_held", customer="cus_B")
    )
    gateway = StripeGateway(settings, api_key="sk_test_relink123")
    try:
        with pytest.raises(Conflict, match="cus_B"):
            await service.assign_account_owner(
                db, gateway, account_id="fca_held", customer_id="cus_A"
            )
    finally:
        await gateway.aclose()
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM accounts") == 0


@pytest.mark.usefixtures("_restore_logging")
def test_import_command_reads_customers_from_a_file(database_url: str, tmp_path: Path) -> None:
    customers = tmp_path / "customers.txt"
    customers.write_text("# customers to onboard\ncus_A\n\ncus_B  # second\n")
    with respx.mock(base_url=API, assert_all_mocked=True) as stripe:
        stripe.get(ACCOUNTS, params={"account_holder[customer]": "cus_A"}).respond(
            200, json=account_list([fc_account("fca_a", customer="cus_A")])
        )
        stripe.get(ACCOUNTS, params={"account_holder[customer]": "cus_B"}).respond(
            200, json=account_list([fc_account("fca_b", customer="cus_B")])
        )
        result = CliRunner().invoke(
            main,
            ["import", "--file", str(customers)],
            env={
                "STRIPE_SECRET_KEY": "sk_test_relink123",
                "STRIPE_PUBLISHABLE_KEY": "",
                "DATABASE_URL": database_url,
                "RELINK_AUTH_JWT_SECRET": JWT_SECRET,
                "RELINK_STRIPE_MAX_NETWORK_RETRIES": "0",
            },
        )
    assert result.exit_code == 0, result.output
    assert "imported 2 account(s) of 2 customer(s); 2 new or changed" in result.output
