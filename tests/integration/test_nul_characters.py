"""Input PostgreSQL cannot store (a NUL character) is the client's 422, not a 500.

Found by schemathesis (tests/contract): `?customer=%00` reached the database driver."""

from __future__ import annotations

import base64

import httpx
import pytest

from relink_api.auth import admin_key_digest
from relink_api.settings import Settings
from tests.conftest import make_settings
from tests.support import assert_problem

ADMIN_KEY = "rk_admin_" + "N" * 43


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, admin_api_key_sha256=admin_key_digest(ADMIN_KEY))


def _cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("method", "path", "params", "admin"),
    [
        ("GET", "/v1/admin/accounts", {"customer": "cus_\x00"}, True),
        ("GET", "/v1/admin/accounts", {"institution": "fcinst_\x00"}, True),
        ("GET", "/v1/accounts/fca_%00", {}, False),
        ("GET", "/v1/relink-sessions/rls_%00", {}, False),
    ],
    ids=["admin-customer", "admin-institution", "account-id", "session-id"],
)
async def test_a_nul_character_is_a_validation_problem(
    client: httpx.AsyncClient,
    auth_a: dict[str, str],
    method: str,
    path: str,
    params: dict[str, str],
    admin: bool,
) -> None:
    headers = {"X-Admin-Key": ADMIN_KEY} if admin else auth_a
    response = await client.request(method, path, params=params, headers=headers)

    assert_problem(response, 422, "validation-failed")


async def test_a_cursor_hiding_a_nul_character_is_invalid(
    client: httpx.AsyncClient, auth_a: dict[str, str]
) -> None:
    response = await client.get(
        "/v1/accounts", params={"cursor": _cursor("fca_\x00")}, headers=auth_a
    )

    assert_problem(response, 400, "invalid-cursor")


async def test_a_nul_character_in_a_body_is_a_validation_problem(
    client: httpx.AsyncClient, auth_a: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_\x00"}, headers=auth_a
    )

    assert_problem(response, 422, "validation-failed")
