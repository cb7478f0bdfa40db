"""GET /v1/accounts has PostgreSQL write its page's JSON in one query: the bytes are the ones
the models would give, and the driver decodes one value a page, not a row per account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from relink_api.accounts import repository
from relink_api.accounts.schemas import AccountList, AccountRead
from relink_api.accounts.views import to_read
from relink_api.db import Connection, Database
from relink_api.pagination import encode_cursor
from relink_api.settings import Settings
from tests.conftest import Seed, bearer
from tests.integration.test_accounts_api import EXPECTED_HEALTH, seed_every_health


async def seed_every_kind(seed: Seed, db: Database) -> list[str]:
    """cus_A's accounts: every link health, a status newer than this code, and an account
    linked in place of another; their ids in list order."""
    await seed_every_health(seed)
    await seed("fca_10_future_status", status="suspended")
    await seed("fca_11_replacement", permissions=["payment_method", "balances", "ownership"])
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE accounts SET needs_payment_method = true, replaces_account_id = $2 "
            "WHERE id = $1",
            "fca_11_replacement",
            "fca_04_relink",
        )
    return sorted([*EXPECTED_HEALTH, "fca_10_future_status", "fca_11_replacement"])


async def as_the_model_shows(db: Database, ids: list[str], **page: Any) -> bytes:
    """The page as ``AccountList`` writes it, each account read the single-account way."""
    async with db.connection() as conn:
        rows = [await repository.get(conn, account_id=account_id) for account_id in ids]
    data = [to_read(row) for row in rows if row is not None]
    return AccountList(data=data, **page).model_dump_json().encode()


async def test_the_page_is_byte_for_byte_what_the_model_writes(
    client: httpx.AsyncClient, db: Database, seed: Seed, auth_a: dict[str, str]
) -> None:
    ids = await seed_every_kind(seed, db)

    whole = await client.get("/v1/accounts", params={"limit": 100}, headers=auth_a)
    first = await client.get("/v1/accounts", params={"limit": 4}, headers=auth_a)

    assert whole.status_code == 200
    assert whole.headers["content-type"] == "application/json"
    assert whole.content == await as_the_model_shows(db, ids, has_more=False, next_cursor=None)
    shown = {account["id"]: account for account in whole.json()["data"]}
    assert shown["fca_10_future_status"]["status"] == "unknown"
    assert shown["fca_11_replacement"]["needs_new_payment_method"] is True
    assert {shown[i]["link_health"] for i in ids} == {*EXPECTED_HEALTH.values(), "unknown"}
    assert first.content == await as_the_model_shows(
        db, ids[:4], has_more=True, next_cursor=encode_cursor(ids[3])
    )


# Text JSON must escape, or that a naive writer would get wrong; times with and without
# microseconds (pydantic writes six digits, or none).
AWKWARD_NAME = 'Say "hi" \\ back\\slash \x01\x1f\x7f\t\n\r\b\f é ü 😀 \u2028 </script> /'
AWKWARD_TIMES = {
    "inactive_since": "2026-03-04 05:06:07.120000+00",
    "expected_deactivation_at": "2026-03-04 05:06:07.000005+00",
    "updated_at": "2026-03-04 23:59:59+05",
}


async def test_awkward_text_times_and_every_page_are_what_the_model_writes(
    client: httpx.AsyncClient,
    db: Database,
    seed: Seed,
    settings: Settings,
    auth_a: dict[str, str],
) -> None:
    ids = await seed_every_kind(seed, db)
    times = ", ".join(f"{column} = '{value}'" for column, value in AWKWARD_TIMES.items())
    async with db.transaction() as conn:
        await conn.execute(
            f"UPDATE accounts SET display_name = $2, institution_name = '', {times} WHERE id = $1",
            ids[0],
            AWKWARD_NAME,
        )
        await conn.execute("UPDATE accounts SET category = NULL WHERE id = $1", ids[1])
    pages = [(ids[:4], True), (ids[4:8], True), (ids[8:], False)]
    cursor = None

    for shown, more in pages:
        params = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        page = await client.get("/v1/accounts", params=params, headers=auth_a)
        cursor = encode_cursor(shown[-1]) if more else None
        assert page.content == await as_the_model_shows(
            db, shown, has_more=more, next_cursor=cursor
        )
    assert (await client.get("/v1/accounts", headers=auth_a)).json()["data"][0][
        "display_name"
    ] == AWKWARD_NAME
    # Exactly a page's worth is the last page; no account at all is an empty one.
    whole = await client.get("/v1/accounts", params={"limit": len(ids)}, headers=auth_a)
    assert whole.content == await as_the_model_shows(db, ids, has_more=False, next_cursor=None)
    none = await client.get("/v1/accounts", headers=bearer(settings, "cus_NoAccounts"))
    assert none.content == b'{"data":[],"has_more":false,"next_cursor":null}'


@pytest.fixture
def statements(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement sent on the connections the app takes from ``db`` from now on."""
    sent: list[str] = []
    connection = db.connection

    def note(query: Any) -> None:
        sent.append(query.query)

    @asynccontextmanager
    async def noted() -> AsyncIterator[Connection]:
        async with connection() as conn:
            conn.add_query_logger(note)
            try:
                yield conn
            finally:
                conn.remove_query_logger(note)

    monkeypatch.setattr(db, "connection", noted)
    return sent


async def test_a_page_is_one_statement_and_one_value(
    client: httpx.AsyncClient,
    db: Database,
    seed: Seed,
    auth_a: dict[str, str],
    statements: list[str],
) -> None:
    await seed("fca_one", status="active")
    one = await client.get("/v1/accounts", headers=auth_a)
    sent_for_one = list(statements)
    await seed_every_kind(seed, db)
    statements.clear()

    many = await client.get("/v1/accounts", params={"health": "ok,expiring"}, headers=auth_a)

    assert len(one.json()["data"]) == 1
    assert len(many.json()["data"]) == 7
    assert len(sent_for_one) == 1
    assert len(statements) == 1
    # One row of three values, whatever the page holds: the accounts' JSON, whether more
    # match, the last one's id. The driver decodes no column of any account.
    async with db.connection() as conn:
        prepared = await conn.prepare(statements[0])
        assert [column.type.name for column in prepared.get_attributes()] == [
            "text",
            "bool",
            "text",
        ]
    # The accounts' fields are the model's, in order: no account holder or snapshot read.
    assert list(many.json()["data"][0]) == list(AccountRead.model_fields)
