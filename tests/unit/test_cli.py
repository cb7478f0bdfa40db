"""The ``relink-api`` commands that need no database or Stripe."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import jwt
import pytest
import respx
from click.testing import CliRunner

from relink_api.cli.main import main
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


def test_token_without_a_shared_secret_says_what_is_missing(tmp_path: Path) -> None:
    # An empty data folder: no sandbox secret to fall back on.
    env = {**EMPTY_ENV, "RELINK_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["token", "cus_123"], env=env)
    assert result.exit_code == 2
    assert "RELINK_AUTH_JWT_SECRET" in result.output


def test_token_in_a_sandbox_data_folder_signs_with_the_sandboxs_secret(tmp_path: Path) -> None:
    (tmp_path / "sandbox-secrets.json").write_text(json.dumps({"jwt_secret": SECRET}))
    env = {**EMPTY_ENV, "RELINK_DATA_DIR": str(tmp_path)}

    result = CliRunner().invoke(main, ["token", "cus_123"], env=env)

    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.output.strip(), SECRET, algorithms=["HS256"])
    assert claims["stripe_customer"] == "cus_123"


def test_token_prefers_the_configured_secret_to_a_sandboxs(tmp_path: Path) -> None:
    (tmp_path / "sandbox-secrets.json").write_text(json.dumps({"jwt_secret": "s" * 64}))
    env = {**EMPTY_ENV, "RELINK_DATA_DIR": str(tmp_path), "RELINK_AUTH_JWT_SECRET": SECRET}

    result = CliRunner().invoke(main, ["token", "cus_123"], env=env)

    assert result.exit_code == 0, result.output
    assert jwt.decode(result.output.strip(), SECRET, algorithms=["HS256"])


def test_serve_against_stripe_lists_exactly_which_settings_to_provide() -> None:
    env = {**EMPTY_ENV, "STRIPE_SECRET_KEY": "sk_test_abc"}
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert result.exit_code == 2
    for name in ("STRIPE_PUBLISHABLE_KEY", "RELINK_AUTH_JWT_SECRET"):
        assert name in result.output
    assert "relink-api serve --sandbox" in result.output


def test_serve_without_keys_does_not_become_a_sandbox(tmp_path: Path) -> None:
    env = {**EMPTY_ENV, "RELINK_DATA_DIR": str(tmp_path / "data")}

    result = CliRunner().invoke(main, ["serve"], env=env)

    assert result.exit_code == 2
    assert result.output.count("\n") == 1, result.output
    for named in ("STRIPE_SECRET_KEY", "relink-api serve --sandbox", "RELINK_SANDBOX=true"):
        assert named in result.output
    # Nothing was started or generated: no sandbox secrets, no embedded database.
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["serve", "--sandbox", "--host", "0.0.0.0"], {}),
        (["serve", "--sandbox"], {"RELINK_HOST": "0.0.0.0"}),
        (["serve"], {"RELINK_SANDBOX": "true", "RELINK_HOST": "::"}),
        (["serve", "--sandbox", "--host", "example.com"], {}),
    ],
)
def test_the_sandbox_refuses_a_non_loopback_address_unless_allowed(
    tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    environment = {**EMPTY_ENV, "RELINK_DATA_DIR": str(tmp_path / "data"), **env}

    result = CliRunner().invoke(main, args, env=environment)

    assert result.exit_code == 2
    assert result.output.count("\n") == 1, result.output
    assert "loopback" in result.output
    assert "RELINK_SANDBOX_ALLOW_REMOTE=true" in result.output
    assert not (tmp_path / "data").exists()


def test_the_sandbox_is_refused_beside_a_real_key_given_by_flag() -> None:
    env = {**EMPTY_ENV, "STRIPE_SECRET_KEY": "sk_test_abc"}
    result = CliRunner().invoke(main, ["serve", "--sandbox"], env=env)
    assert result.exit_code == 2
    assert "cannot run with a real STRIPE_SECRET_KEY" in result.output
    assert "sk_test_abc" not in result.output


@pytest.mark.parametrize("command", [["serve", "--sandbox"], ["migrate"], ["prune-events"]])
def test_a_database_url_that_is_not_postgresql_is_one_sentence(command: list[str]) -> None:
    env = {**EMPTY_ENV, "DATABASE_URL": "mysql://root:secretpw@db/app"}
    result = CliRunner().invoke(main, command, env=env)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1, result.output
    assert "DATABASE_URL must be a PostgreSQL URL" in result.output
    assert "secretpw" not in result.output


def test_sandbox_commands_send_the_sandboxs_admin_key(tmp_path: Path) -> None:
    key = "rk_admin_" + "k" * 43
    (tmp_path / "sandbox-secrets.json").write_text(json.dumps({"admin_api_key": key}))
    env = {**EMPTY_ENV, "RELINK_DATA_DIR": str(tmp_path)}
    with respx.mock(assert_all_called=True) as http:
        deactivate = http.post("http://sandbox.test/sandbox/control/accounts/fca_1/deactivate")
        deactivate.respond(200, json={"id": "fca_1"})
        flush = http.post("http://sandbox.test/sandbox/control/outbox/flush")
        flush.respond(200, json={"delivered": 1, "pending": 0})

        result = CliRunner().invoke(
            main, ["sandbox", "--url", "http://sandbox.test", "deactivate", "fca_1"], env=env
        )

    assert result.exit_code == 0, result.output
    assert deactivate.calls.last.request.headers["X-Admin-Key"] == key
    assert flush.calls.last.request.headers["X-Admin-Key"] == key


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
