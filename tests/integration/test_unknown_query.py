"""A query parameter the route does not take, or a filter that names nothing, is refused,
so a list cannot silently widen to everything. Found by schemathesis (tests/contract):
unknown parameters and `?health=` were ignored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_flat_params

from relink_api.auth import admin_key_digest
from relink_api.settings import Settings
from relink_api.web import inputs
from tests.conftest import make_settings
from tests.support import assert_problem

ADMIN_KEY = "rk_admin_" + "Q" * 43


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, admin_api_key_sha256=admin_key_digest(ADMIN_KEY))


@pytest.mark.parametrize(
    ("path", "params", "admin"),
    [
        ("/v1/admin/accounts", {"custmer": "cus_A"}, True),
        ("/v1/accounts", {"heath": "ok"}, False),
        ("/v1/payment-methods", {"page": "2"}, False),
        ("/v1/accounts/fca_checking", {"expand": "x"}, False),
        ("/v1/config", {"x": "1"}, False),
    ],
)
async def test_an_unknown_query_parameter_is_refused(
    client: httpx.AsyncClient,
    auth_a: dict[str, str],
    path: str,
    params: dict[str, str],
    admin: bool,
) -> None:
    headers = {"X-Admin-Key": ADMIN_KEY} if admin else auth_a
    response = await client.get(path, params=params, headers=headers)

    problem = assert_problem(response, 422, "validation-failed")
    [name] = params
    assert problem["errors"] == [{"loc": ["query", name], "msg": "unknown parameter"}]


async def test_known_query_parameters_pass(
    client: httpx.AsyncClient, auth_a: dict[str, str]
) -> None:
    response = await client.get(
        "/v1/accounts", params={"health": "ok,expiring", "limit": "5"}, headers=auth_a
    )
    admin = await client.get(
        "/v1/admin/accounts",
        params={"customer": "cus_A", "institution": "fcinst_x", "health": "ok", "limit": 5},
        headers={"X-Admin-Key": ADMIN_KEY},
    )

    assert response.status_code == 200, response.text
    assert admin.status_code == 200, admin.text


@pytest.mark.parametrize("path", ["/v1/accounts", "/v1/admin/accounts"])
@pytest.mark.parametrize("value", ["", ",", " , "])
async def test_a_health_filter_naming_nothing_is_refused(
    client: httpx.AsyncClient, auth_a: dict[str, str], path: str, value: str
) -> None:
    headers = {"X-Admin-Key": ADMIN_KEY} if path.startswith("/v1/admin/") else auth_a
    response = await client.get(path, params={"health": value}, headers=headers)

    problem = assert_problem(response, 422, "validation-failed")
    assert problem["errors"] == [{"loc": ["query", "health"], "msg": "empty value"}]


async def test_a_routes_parameters_are_worked_out_once(
    client: httpx.AsyncClient, auth_a: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    walked: list[object] = []

    def counted(dependant: Dependant) -> Any:
        walked.append(dependant)
        return get_flat_params(dependant)

    monkeypatch.setattr(inputs, "get_flat_params", counted)
    for limit in ("5", "6", "7"):
        response = await client.get("/v1/accounts", params={"limit": limit}, headers=auth_a)
        assert response.status_code == 200, response.text
    refused = await client.get("/v1/accounts", params={"limt": "5"}, headers=auth_a)
    assert_problem(refused, 422, "validation-failed")
    # Once for the route (none if an earlier test's app already asked: routers are shared).
    assert len(walked) <= 1
