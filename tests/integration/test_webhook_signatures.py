"""POST /v1/webhooks/stripe: real HMAC signatures, and nothing written for any rejection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from relink_api.db import Database
from relink_api.webhooks.signature import sign
from tests.conftest import WEBHOOK_SECRET, Seed, make_settings
from tests.factories import fc_account
from tests.stripe_events import WEBHOOK_PATH, deliver, encode, event, signature_header
from tests.support import assert_problem, serve

DEACTIVATED = "financial_connections.account.deactivated"
SIGNATURE_INVALID = "webhook-signature-invalid"
EVENT_MALFORMED = "webhook-event-malformed"
TABLES = ("webhook_events", "accounts", "account_status_history")

Headers = dict[str, str | bytes]
# From a correctly encoded event: the body to send and the headers to send it with.
Tamper = Callable[[bytes], tuple[bytes, Headers]]


def deactivation(account_id: str = "fca_sig", **kwargs: Any) -> dict[str, Any]:
    """A deactivation of an account we have not stored yet: applying it writes a row in
    each of the three tables, so "nothing written" is a meaningful check."""
    return event(
        DEACTIVATED,
        fc_account(account_id, status="inactive", action="relink_required", cause="access_expired"),
        **kwargs,
    )


async def row_counts(db: Database) -> dict[str, int]:
    async with db.connection() as conn:
        return {table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES}


async def assert_nothing_written(db: Database) -> None:
    assert await row_counts(db) == dict.fromkeys(TABLES, 0)


def signed(payload: bytes, header: str | bytes) -> tuple[bytes, Headers]:
    return payload, {"Stripe-Signature": header, "Content-Type": "application/json"}


async def post(client: httpx.AsyncClient, body: bytes, headers: Headers) -> httpx.Response:
    # As raw bytes, so a header can carry any Latin-1 character, as HTTP allows.
    raw = [
        (name.encode(), value if isinstance(value, bytes) else value.encode())
        for name, value in headers.items()
    ]
    return await client.post(WEBHOOK_PATH, content=body, headers=raw)


async def test_a_valid_signature_is_accepted_and_the_event_applied(
    client: httpx.AsyncClient, db: Database
) -> None:
    document = deactivation()
    payload = encode(document)

    response = await post(client, *signed(payload, signature_header(payload)))

    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "event_id": document["id"], "result": "applied"}
    assert await row_counts(db) == dict.fromkeys(TABLES, 1)
    async with db.connection() as conn:
        stored = await conn.fetchrow("SELECT status, action, customer_id FROM accounts")
        history = await conn.fetchrow("SELECT source, event_id FROM account_status_history")
        result = await conn.fetchval("SELECT result FROM webhook_events")
    assert stored is not None
    assert tuple(stored) == ("inactive", "relink_required", "cus_A")
    assert history is not None
    assert tuple(history) == ("webhook", document["id"])
    assert result == "applied"


def _tampered(payload: bytes) -> tuple[bytes, Headers]:
    header = signature_header(payload)
    body = payload.replace(b'"fca_sig"', b'"fca_other"')
    assert body != payload
    return signed(body, header)


def _wrong_secret(payload: bytes) -> tuple[bytes, Headers]:
    return signed(payload, signature_header(payload, secret="whsec_notours"))


def _old(payload: bytes) -> tuple[bytes, Headers]:
    return signed(payload, signature_header(payload, timestamp=int(time.time()) - 301))


def _future(payload: bytes) -> tuple[bytes, Headers]:
    # 301 s ahead of a clock read rounded down is only 300.x s ahead of it, and less by the
    # time the server checks: +302 stays beyond the 300 s tolerance on a slow machine too.
    return signed(payload, signature_header(payload, timestamp=int(time.time()) + 302))


def _no_header(payload: bytes) -> tuple[bytes, Headers]:
    return payload, {"Content-Type": "application/json"}


def _empty_header(payload: bytes) -> tuple[bytes, Headers]:
    return signed(payload, "")


def _only_v0(payload: bytes) -> tuple[bytes, Headers]:
    # A correct HMAC, but under the scheme Stripe uses for fake test signatures.
    at = int(time.time())
    return signed(payload, f"t={at},v0={sign(payload, WEBHOOK_SECRET, at)}")


def _garbage(header: str | bytes) -> Tamper:
    def build(payload: bytes) -> tuple[bytes, Headers]:
        return signed(payload, header)

    return build


def _valid_v1_bad_timestamp(template: bytes) -> Tamper:
    def build(payload: bytes) -> tuple[bytes, Headers]:
        at = int(time.time())
        header = template.replace(b"{v1}", sign(payload, WEBHOOK_SECRET, at).encode())
        return signed(payload, header)

    return build


def _valid_v1_without_timestamp(payload: bytes) -> tuple[bytes, Headers]:
    return signed(payload, f"v1={sign(payload, WEBHOOK_SECRET, int(time.time()))}")


@pytest.mark.parametrize(
    "tamper",
    [
        _tampered,
        _wrong_secret,
        _old,
        _future,
        _no_header,
        _empty_header,
        _only_v0,
        _valid_v1_without_timestamp,
        _garbage("garbage"),
        _garbage("t=,v1="),
        _garbage("t=abc,v1=def"),
        _garbage("Bearer whsec_testcurrent"),
        _garbage("t=1,t=2,v1=" + "a" * 64),
        _valid_v1_bad_timestamp(b"t=now,v1={v1}"),
        # "²" in Latin-1: str.isdigit() says yes, int() says no.
        _valid_v1_bad_timestamp(b"t=\xb2,v1={v1}"),
    ],
    ids=[
        "tampered-body",
        "wrong-secret",
        "301s-old",
        "301s-in-the-future",
        "no-header",
        "empty-header",
        "only-v0",
        "no-timestamp",
        "garbage-word",
        "garbage-empty-values",
        "garbage-non-hex",
        "garbage-bearer",
        "garbage-two-timestamps",
        "garbage-word-timestamp",
        "garbage-latin1-superscript-timestamp",
    ],
)
async def test_a_rejected_signature_is_a_400_problem_and_writes_nothing(
    client: httpx.AsyncClient, db: Database, tamper: Tamper
) -> None:
    body, headers = tamper(encode(deactivation()))

    response = await post(client, body, headers)

    problem = assert_problem(response, 400, SIGNATURE_INVALID, instance=WEBHOOK_PATH)
    assert problem["detail"]
    assert await row_counts(db) == dict.fromkeys(TABLES, 0)


async def test_one_valid_v1_among_several_is_enough(
    client: httpx.AsyncClient, db: Database
) -> None:
    document = deactivation()
    payload = encode(document)
    at = int(time.time())
    header = (
        f"t={at},v1={sign(payload, 'whsec_retired', at)},"
        f"v1={sign(payload, WEBHOOK_SECRET, at)},v0={'0' * 64}"
    )

    response = await post(client, *signed(payload, header))

    assert response.status_code == 200, response.text
    assert response.json()["result"] == "applied"
    assert (await row_counts(db))["webhook_events"] == 1


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b'{"id": "evt_1", "type": ',
        b"\xff\xfe\x00garbage",
        b"",
    ],
    ids=["text", "truncated-json", "not-utf8", "empty"],
)
async def test_a_correctly_signed_body_that_is_not_json_is_a_400_and_writes_nothing(
    client: httpx.AsyncClient, db: Database, body: bytes
) -> None:
    response = await post(client, *signed(body, signature_header(body)))

    assert_problem(response, 400, EVENT_MALFORMED, instance=WEBHOOK_PATH)
    await assert_nothing_written(db)


@pytest.mark.parametrize(
    "document",
    [
        {"hello": "world"},
        [{"id": "evt_1", "type": DEACTIVATED, "created": 1_700_000_000}],
        "evt_1",
        {"type": DEACTIVATED, "created": 1_700_000_000, "data": {"object": {}}},
        {"id": "evt_1", "created": 1_700_000_000, "data": {"object": {}}},
        {"id": "evt_1", "type": DEACTIVATED, "data": {"object": {}}},
        {"id": "evt_1", "type": DEACTIVATED, "created": "yesterday"},
        {"id": "", "type": DEACTIVATED, "created": 1_700_000_000},
    ],
    ids=[
        "other-object",
        "array",
        "string",
        "no-id",
        "no-type",
        "no-created",
        "created-not-a-number",
        "empty-id",
    ],
)
async def test_correctly_signed_json_that_is_not_an_event_is_a_400_and_writes_nothing(
    client: httpx.AsyncClient, db: Database, document: Any
) -> None:
    body = httpx.Request("POST", "/", json=document).content

    response = await post(client, *signed(body, signature_header(body)))

    assert_problem(response, 400, EVENT_MALFORMED, instance=WEBHOOK_PATH)
    await assert_nothing_written(db)


async def test_during_rotation_either_secret_is_accepted(database_url: str, db: Database) -> None:
    settings = make_settings(database_url, stripe_webhook_secrets="whsec_old,whsec_new")
    old = deactivation("fca_rot_old")
    new = deactivation("fca_rot_new")
    retired = deactivation("fca_rot_retired")

    async with serve(settings) as client:
        by_old = await deliver(client, old, secret="whsec_old")
        by_new = await deliver(client, new, secret="whsec_new")
        by_default = await deliver(client, retired)  # WEBHOOK_SECRET is not configured here

    assert by_old.status_code == 200, by_old.text
    assert by_old.json()["result"] == "applied"
    assert by_new.status_code == 200, by_new.text
    assert by_new.json()["result"] == "applied"
    assert_problem(by_default, 400, SIGNATURE_INVALID)
    async with db.connection() as conn:
        events = await conn.fetch("SELECT id FROM webhook_events ORDER BY id")
        accounts = await conn.fetch("SELECT id FROM accounts ORDER BY id")
    assert sorted(row["id"] for row in events) == sorted([old["id"], new["id"]])
    assert [row["id"] for row in accounts] == ["fca_rot_new", "fca_rot_old"]


async def test_without_a_secret_the_endpoint_does_not_exist(
    database_url: str, db: Database
) -> None:
    settings = make_settings(database_url, stripe_webhook_secrets="")
    assert settings.stripe_webhook_secrets == []

    async with serve(settings) as client:
        signed_right = await deliver(client, deactivation())
        unsigned = await client.post(WEBHOOK_PATH, content=encode(deactivation()))

    assert_problem(signed_right, 404, "not-found", instance=WEBHOOK_PATH)
    assert_problem(unsigned, 404, "not-found", instance=WEBHOOK_PATH)
    await assert_nothing_written(db)


def _oversized_event() -> bytes:
    document = deactivation()
    document["data"]["object"]["padding"] = "x" * (1024 * 1024)
    payload = encode(document)
    assert len(payload) > 1024 * 1024
    return payload


async def test_a_body_over_one_mebibyte_is_a_413_and_writes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    payload = _oversized_event()

    response = await post(client, *signed(payload, signature_header(payload)))

    assert_problem(response, 413, "payload-too-large", instance=WEBHOOK_PATH)
    await assert_nothing_written(db)


async def test_a_streamed_body_over_one_mebibyte_is_a_413_and_writes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    # No Content-Length to go by: the limit holds while reading.
    payload = _oversized_event()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 64 * 1024):
            yield payload[start : start + 64 * 1024]

    response = await client.post(
        WEBHOOK_PATH,
        content=chunks(),
        headers={"Stripe-Signature": signature_header(payload)},
    )

    assert_problem(response, 413, "payload-too-large", instance=WEBHOOK_PATH)
    await assert_nothing_written(db)


async def test_a_body_of_exactly_one_mebibyte_is_not_refused_for_its_size(
    client: httpx.AsyncClient, db: Database
) -> None:
    document = deactivation()
    document["data"]["object"]["padding"] = ""
    room = 1024 * 1024 - len(encode(document))
    document["data"]["object"]["padding"] = "x" * room
    payload = encode(document)
    assert len(payload) == 1024 * 1024

    response = await post(client, *signed(payload, signature_header(payload)))

    assert response.status_code == 200, response.text
    assert response.json()["result"] == "applied"


@pytest.mark.parametrize("known", [True, False], ids=["known-account", "new-account"])
async def test_twenty_concurrent_deliveries_apply_once_and_write_one_history_row(
    client: httpx.AsyncClient, db: Database, seed: Seed, known: bool
) -> None:
    if known:
        await seed("fca_sig", status="active")
    document = deactivation()
    async with db.connection() as conn:
        history_before = await conn.fetchval("SELECT count(*) FROM account_status_history")

    responses = await asyncio.gather(*(deliver(client, document) for _ in range(20)))

    assert [response.status_code for response in responses] == [200] * 20
    results = sorted(response.json()["result"] for response in responses)
    assert results == ["applied"] + ["duplicate"] * 19
    assert {response.json()["event_id"] for response in responses} == {document["id"]}
    async with db.connection() as conn:
        events = await conn.fetch("SELECT id, result FROM webhook_events")
        history = await conn.fetch(
            "SELECT event_id, source, to_status FROM account_status_history WHERE event_id = $1",
            document["id"],
        )
        history_after = await conn.fetchval("SELECT count(*) FROM account_status_history")
        status = await conn.fetchval("SELECT status FROM accounts WHERE id = 'fca_sig'")
    assert [tuple(row) for row in events] == [(document["id"], "applied")]
    assert [tuple(row) for row in history] == [(document["id"], "webhook", "inactive")]
    assert history_after == history_before + 1
    assert status == "inactive"
