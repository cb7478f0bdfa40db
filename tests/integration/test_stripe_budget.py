"""The service-wide Stripe budget (issue 11, items 3 and 14) counts HTTP attempts, the SDK's
own retries included, and `sync` paces attempts, not calls; Stripe's own Retry-After on a
429 is what the client is told (item 15)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
import respx

from relink_api.db import Database
from relink_api.gateway.client import StripeGateway
from relink_api.gateway.errors import StripeRateLimited, stripe_retry_after
from relink_api.ratelimit import repository
from relink_api.ratelimit.coalesced import Turn
from relink_api.ratelimit.service import Rate, StripeBudget
from relink_api.reconcile.service import sync_accounts
from relink_api.settings import Settings
from tests.conftest import Seed, bearer, make_settings
from tests.factories import fc_account, stripe_error
from tests.integration.test_rate_limits import seed_account
from tests.support import assert_problem, serve

ACCOUNTS = "/v1/financial_connections/accounts"
ACCOUNT_URL = f"{ACCOUNTS}/fca_checking"
REFRESH = "/v1/accounts/fca_checking/refresh"


def budget(database_url: str, **overrides: object) -> Settings:
    # One turn every ten seconds, never waited for: what is spent stays spent in the test.
    values: dict[str, object] = {
        "stripe_requests_per_second": 0.1,
        "stripe_budget_wait_seconds": 0,
    }
    values.update(overrides)
    return make_settings(database_url, **values)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return budget(database_url, stripe_requests_burst=1)


async def test_past_the_budget_a_request_is_a_503_and_nothing_reaches_stripe(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    await seed()
    route = stripe_mock.get(ACCOUNT_URL).respond(200, json=fc_account())

    first = await client.post(REFRESH, headers=auth_a)
    second = await client.post(REFRESH, headers=auth_a)

    assert first.status_code == 200, first.text
    problem = assert_problem(second, 503, "stripe-rate-limited", instance=REFRESH)
    assert "nothing was sent to Stripe" in problem["detail"]
    assert 1 <= int(second.headers["retry-after"]) <= 10
    assert route.call_count == 1


async def test_the_sdks_retries_take_from_the_budget_too(
    database_url: str, stripe_mock: respx.MockRouter
) -> None:
    # Three turns; one call that Stripe answers 500, 500, 200 spends all three.
    settings = budget(database_url, stripe_requests_burst=3, stripe_max_network_retries=2)
    route = stripe_mock.get(ACCOUNT_URL).mock(
        side_effect=[
            httpx.Response(500, json=stripe_error(type="api_error")),
            httpx.Response(500, json=stripe_error(type="api_error")),
            httpx.Response(200, json=fc_account()),
        ]
    )
    await seed_account(database_url)
    async with serve(settings) as http:
        auth = bearer(settings, "cus_A")
        first = await http.post(REFRESH, headers=auth)
        second = await http.post(REFRESH, headers=auth)

    assert first.status_code == 200, first.text
    assert_problem(second, 503, "stripe-rate-limited")
    assert route.call_count == 3


# --- Stripe's own 429 (item 15) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "told"),
    [
        ("7", "7"),
        (None, "2"),
        ("soon", "2"),
        ("0.2", "1"),
        ("3600", "60"),
    ],
    ids=["stripes-own", "absent", "not-a-number", "fraction-rounded-up", "clamped"],
)
async def test_stripes_retry_after_on_a_429_is_passed_on(
    database_url: str, stripe_mock: respx.MockRouter, sent: str | None, told: str
) -> None:
    settings = make_settings(database_url)
    headers = {"Request-Id": "req_limited"}
    if sent is not None:
        headers["Retry-After"] = sent
    stripe_mock.get(ACCOUNT_URL).respond(
        429,
        json=stripe_error(type="invalid_request_error", code="rate_limit"),
        headers=headers,
    )
    await seed_account(database_url)
    async with serve(settings) as http:
        response = await http.post(REFRESH, headers=bearer(settings, "cus_A"))

    assert_problem(response, 503, "stripe-rate-limited", instance=REFRESH)
    assert response.headers["retry-after"] == told


def test_stripe_retry_after_reads_any_header_case() -> None:
    assert stripe_retry_after({"retry-after": "4"}) == 4
    assert stripe_retry_after({"RETRY-AFTER": " 5 "}) == 5
    assert stripe_retry_after({"Retry-After": "nan"}) == 2
    assert stripe_retry_after({"Retry-After": "-3"}) == 1
    assert stripe_retry_after(None) == 2


# --- sync: attempts, not calls (item 14) ----------------------------------------------------


def fail_twice_then_answer(
    account_id: str, seen: list[float]
) -> Callable[[httpx.Request], httpx.Response]:
    """Stripe's side: 500, 500, then the account; notes when each attempt arrived."""
    answers = itertools.chain(
        [httpx.Response(500, json=stripe_error(type="api_error")) for _ in range(2)],
        itertools.repeat(httpx.Response(200, json=fc_account(account_id))),
    )

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(time.monotonic())
        return next(answers)

    return answer


async def test_sync_never_lets_more_attempts_than_its_rate_into_one_second(
    database_url: str, stripe_mock: respx.MockRouter, seed: Seed, db: Database
) -> None:
    # Five a second configured; every account is answered 500, 500, then 200, and the SDK
    # retries twice, so each call is three attempts.
    rate = 5
    settings = make_settings(database_url, stripe_max_network_retries=2)
    seen: list[float] = []
    accounts = [f"fca_paced_{index}" for index in range(4)]
    for account_id in accounts:
        await seed(account_id)
        stripe_mock.get(f"{ACCOUNTS}/{account_id}").mock(
            side_effect=fail_twice_then_answer(account_id, seen)
        )
    gateway = StripeGateway(settings, api_key="sk_test_relink123")
    try:
        summary = await sync_accounts(
            db, gateway.paced(rate), stale_after=timedelta(0), concurrency=4
        )
    finally:
        await gateway.aclose()

    assert (summary.checked, summary.failed) == (4, 0)
    assert len(seen) == 12
    busiest = max(sum(1 for t in seen if start <= t < start + 1) for start in seen)
    assert busiest <= rate, sorted(round(t - seen[0], 3) for t in seen)


# --- one statement for the attempts a process makes at once (issue 18) ---------------------


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The interval of every check statement sent (one turn's, or several turns' together)."""
    sent: list[float] = []
    check = repository.check

    async def counted(conn: object, **kwargs: float | str) -> repository.Checked:
        sent.append(float(kwargs["interval"]))
        return await check(conn, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(repository, "check", counted)
    return sent


async def test_attempts_made_at_once_take_their_turns_in_one_statement(
    db: Database, checks: list[float]
) -> None:
    budget = StripeBudget(db, Rate(per_second=1000, burst=100), max_wait=1)

    await asyncio.gather(*(budget.on_request_path() for _ in range(50)))

    # One statement for all 50: they no longer queue, 50 pooled connections deep, on the
    # budget's one row.
    assert len(checks) == 1


async def test_turns_taken_together_are_spaced_as_turns_taken_one_by_one(
    db: Database, checks: list[float]
) -> None:
    # Ten a second, bursts of two: two go at once, then one every 100 ms.
    budget = StripeBudget(db, Rate(per_second=10, burst=2), max_wait=1)

    turns = await asyncio.gather(*(budget.turns.take() for _ in range(6)))

    assert all(turn.allowed for turn in turns)
    assert [turn.wait for turn in turns] == pytest.approx([0, 0, 0.1, 0.2, 0.3, 0.4], abs=1e-6)
    assert len(checks) == 1


async def test_a_take_past_the_budget_grants_what_fits_and_refuses_the_rest(
    db: Database, checks: list[float]
) -> None:
    # One a second, bursts of three, no waiting: one turn spent, then four asked at once.
    budget = StripeBudget(db, Rate(per_second=1, burst=3), max_wait=0)
    assert budget.turns.most_at_once == 3
    (first,) = await asyncio.gather(budget.turns.take())

    turns: list[Turn] = await asyncio.gather(*(budget.turns.take() for _ in range(4)))

    assert first.allowed
    # Exactly the burst's remaining two go, as four single checks in a row would decide.
    assert [turn.allowed for turn in turns] == [True, True, False, False]
    assert all(turn.wait == 0 for turn in turns[:2])
    assert all(0.9 < turn.wait <= 1 for turn in turns[2:])
    refused = await asyncio.gather(budget.on_request_path(), return_exceptions=True)
    assert isinstance(refused[0], StripeRateLimited)
    assert refused[0].headers["Retry-After"] == "1"
