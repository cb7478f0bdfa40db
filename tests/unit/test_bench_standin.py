"""The benchmark's Stripe stand-in (bench/standin.py), in process: the calls a sync makes
answered in shapes relink-api's models read, and Stripe's rate limit with its 429. A fake
clock stands in for time, so nothing here depends on how fast the machine is."""

from __future__ import annotations

import httpx
from bench.reconcile import HELD_COLUMNS, Reconciled, held_rows
from bench.standin import StandIn, TokenBucket, account_for

from relink_api.gateway.objects import FcAccount, PaymentMethod


def test_the_bucket_lets_one_seconds_worth_through_then_refills_at_the_rate() -> None:
    bucket = TokenBucket(25)

    assert [bucket.take(0.0) for _ in range(26)] == [True] * 25 + [False]
    # A request every 40 ms is within 25 a second, indefinitely.
    assert all(bucket.take(0.04 * step) for step in range(1, 200))
    # Twice as fast runs out.
    assert not all(bucket.take(8.0 + 0.02 * step) for step in range(1, 200))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_over_the_limit_it_answers_stripes_429_and_counts_it() -> None:
    clock = Clock()
    app = StandIn(0.0, rate_limit=2, clock=clock).app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://standin"
    ) as client:
        answers = [
            await client.get(f"/v1/financial_connections/accounts/fca_{n}") for n in range(3)
        ]
        clock.now += 0.5  # one request's worth again
        later = await client.get("/v1/payment_methods/pm_7")
        stats = (await client.get("/_standin/stats")).json()

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    error = answers[2].json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "rate_limit")
    assert later.status_code == 200
    assert stats == {
        "answered": {
            "GET /v1/financial_connections/accounts/{id}": 2,
            "GET /v1/payment_methods/{id}": 1,
        },
        "rate_limited": 1,
    }


async def test_an_account_and_its_payment_method_read_as_relink_api_reads_them() -> None:
    app = StandIn(0.0).app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://standin"
    ) as client:
        account = (await client.get("/v1/financial_connections/accounts/fca_0042")).json()
        method = (await client.get("/v1/payment_methods/pm_0042")).json()

    read = FcAccount.model_validate(account)
    assert (read.status, read.account_holder and read.account_holder.customer) == (
        "active",
        "cus_0042",
    )
    assert read.authorization == "fcauth_0042"
    paid = PaymentMethod.model_validate(method)
    assert (paid.financial_connections_account, paid.customer, paid.blocked) == (
        "fca_0042",
        "cus_0042",
        None,
    )


def test_figure_5_is_the_wall_time_over_the_requests_answered_at_25_a_second() -> None:
    run = Reconciled(
        accounts=1000,
        checked=1000,
        failed=0,
        wall_seconds=48.4,
        cpu_seconds=5.0,
        answered={"GET /v1/financial_connections/accounts/{id}": 1000, "GET /v1/pm/{id}": 100},
        rate_limited=0,
    )

    summary = run.summary()
    assert (summary["requests"], summary["ideal_seconds"], summary["ratio"]) == (1100, 44.0, 1.1)
    assert (summary["requests_per_account"], summary["cpu_ms_per_account"]) == (1.1, 5.0)


def test_a_loaded_payment_method_is_the_one_the_stand_in_answers_for_its_account() -> None:
    rows = held_rows("rec000010")
    method = PaymentMethod.model_validate_json(rows["payment_methods"][-1])

    assert [dict(zip(HELD_COLUMNS[t], rows[t], strict=True))["account_id"] for t in rows] == [
        "fca_rec000010"
    ] * 3
    assert method.financial_connections_account == "fca_rec000010"
    assert account_for("fca_rec000010")["account_holder"]["customer"] == method.customer
