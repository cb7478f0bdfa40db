"""Rate-limit settings (issue 11): defaults that stop a burst, and refusals of values that
would turn a limit off or past Stripe's own."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from relink_api.cli.main import main
from relink_api.ratelimit.service import Rate, customer_rate, stripe_rate
from relink_api.settings import Settings
from tests.unit.test_cli import EMPTY_ENV


def test_the_defaults_let_a_handful_through_and_stay_under_stripes_limit() -> None:
    settings = Settings.model_construct()
    customer = customer_rate(settings)
    assert customer.burst == 10
    assert customer.interval == 3  # 20 a minute
    stripe = stripe_rate(settings)
    # At most burst + rate in any one second: within Stripe's 25.
    assert stripe.burst + stripe.per_second <= 25


def test_gcra_tolerance_is_one_interval_per_request_past_the_first() -> None:
    rate = Rate.per_minute(30, burst=4)
    assert rate.interval == 2
    assert rate.tolerance == 6


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RELINK_RATE_LIMIT_CUSTOMER_PER_MINUTE", "0"),
        ("RELINK_RATE_LIMIT_CUSTOMER_BURST", "0"),
        ("RELINK_RATE_LIMIT_FAILED_GUESSES_PER_MINUTE", "-1"),
        ("RELINK_STRIPE_REQUESTS_PER_SECOND", "0"),
        ("RELINK_STRIPE_REQUESTS_PER_SECOND", "100000"),
        ("RELINK_STRIPE_BUDGET_WAIT_SECONDS", "60"),
    ],
)
def test_a_limit_that_is_off_or_unbounded_is_refused_in_one_sentence(name: str, value: str) -> None:
    result = CliRunner().invoke(main, ["serve"], env={**EMPTY_ENV, name: value})
    assert result.exit_code == 2
    assert name in result.output
    assert "Traceback" not in result.output
