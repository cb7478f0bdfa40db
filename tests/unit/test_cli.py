"""The ``relink-api`` commands that need no database or Stripe."""

from __future__ import annotations

import hashlib
import re

import jwt
import pytest
from click.testing import CliRunner

from relink_api.cli import main
from relink_api.settings import Settings

SECRET = "cli-secret-that-is-at-least-32-bytes!"
EMPTY_ENV = {
    "STRIPE_SECRET_KEY": "",
    "STRIPE_PUBLISHABLE_KEY": "",
    "STRIPE_WEBHOOK_SECRET": "",
    "DATABASE_URL": "",
    "RELINK_AUTH_JWT_SECRET": "",
}


def test_token_mints_a_short_lived_token_for_the_customer() -> None:
    result = CliRunner().invoke(
        main,
        ["token", "cus_123", "--ttl", "600"],
        env={**EMPTY_ENV, "RELINK_AUTH_JWT_SECRET": SECRET},
    )
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.output.strip(), SECRET, algorithms=["HS256"])
    assert claims["stripe_customer"] == "cus_123"
    assert claims["exp"] - claims["iat"] == 600


def test_token_without_a_shared_secret_says_what_is_missing() -> None:
    result = CliRunner().invoke(main, ["token", "cus_123"], env=EMPTY_ENV)
    assert result.exit_code == 2
    assert "RELINK_AUTH_JWT_SECRET" in result.output


def test_serve_against_stripe_lists_exactly_which_settings_to_provide() -> None:
    env = {**EMPTY_ENV, "STRIPE_SECRET_KEY": "sk_test_abc"}
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert result.exit_code == 2
    for name in ("STRIPE_PUBLISHABLE_KEY", "RELINK_AUTH_JWT_SECRET"):
        assert name in result.output
    assert "unset STRIPE_SECRET_KEY to run the offline sandbox" in result.output


@pytest.mark.parametrize(
    ("env", "sentence"),
    [
        ({"STRIPE_SECRET_KEY": "sk_live_abc"}, "needs STRIPE_WEBHOOK_SECRET"),
        ({"RELINK_PORT": "not-a-port"}, "RELINK_PORT"),
    ],
)
def test_bad_configuration_is_one_clear_error(env: dict[str, str], sentence: str) -> None:
    result = CliRunner().invoke(main, ["serve"], env={**EMPTY_ENV, **env})
    assert result.exit_code == 2
    assert sentence in result.output
    assert "Traceback" not in result.output
    assert "sk_live_abc" not in result.output


def test_import_needs_customers_or_an_account() -> None:
    result = CliRunner().invoke(main, ["import"], env=EMPTY_ENV)
    assert result.exit_code == 2
    assert "Name customers" in result.output
    result = CliRunner().invoke(main, ["import", "--account", "fca_1"], env=EMPTY_ENV)
    assert result.exit_code == 2
    assert "go together" in result.output


def test_admin_key_prints_a_key_and_the_digest_that_lets_it_in() -> None:
    first = CliRunner().invoke(main, ["admin-key"], env=EMPTY_ENV)
    second = CliRunner().invoke(main, ["admin-key"], env=EMPTY_ENV)

    assert first.exit_code == 0, first.output
    key, setting = first.stdout.splitlines()
    assert re.fullmatch(r"rk_admin_[A-Za-z0-9_-]{43}", key)
    name, _, digest = setting.partition("=")
    assert name == "RELINK_ADMIN_API_KEY_SHA256"
    assert digest == hashlib.sha256(key.encode()).hexdigest()
    # The printed line is a valid setting as it stands.
    assert Settings(admin_api_key_sha256=digest).admin_api_key_digests == [digest]  # type: ignore[arg-type]
    assert "X-Admin-Key" in first.stderr
    assert second.stdout.splitlines()[0] != key
