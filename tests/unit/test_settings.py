"""Settings: defaults, env names, and every configuration refused at start-up."""

from __future__ import annotations

import pytest
import stripe

from relink_api.settings import DEFAULT_STRIPE_API_VERSION, ConfigurationError, Settings

SECRET = "s" * 32


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The tests describe Settings from a known-empty environment.
    for name in Settings.model_fields:
        monkeypatch.delenv(f"RELINK_{name.upper()}", raising=False)
    for name in (
        "STRIPE_SECRET_KEY",
        "STRIPE_PUBLISHABLE_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "STRIPE_API_VERSION",
        "DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_default_api_version_is_the_pinned_sdks_preview() -> None:
    assert DEFAULT_STRIPE_API_VERSION == stripe._api_version._ApiVersion.CURRENT
    assert DEFAULT_STRIPE_API_VERSION.endswith(".preview")


def test_stripe_timeout_and_retries_are_not_the_sdk_defaults() -> None:
    settings = Settings()
    assert settings.stripe_timeout_seconds < 80
    assert settings.stripe_max_network_retries > 0


def test_reads_stripe_and_database_names_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_abc")
    monkeypatch.setenv("STRIPE_PUBLISHABLE_KEY", "pk_test_abc")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_one, whsec_two")
    monkeypatch.setenv("STRIPE_API_VERSION", "2026-08-26.preview")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/relink")
    monkeypatch.setenv("RELINK_STRIPE_MAX_NETWORK_RETRIES", "3")
    monkeypatch.setenv("RELINK_RETURN_URL_ALLOWLIST", "https://App.Example.com, myapp://")

    settings = Settings()

    assert settings.stripe_secret_key is not None
    assert settings.stripe_secret_key.get_secret_value() == "sk_test_abc"
    assert [s.get_secret_value() for s in settings.stripe_webhook_secrets] == [
        "whsec_one",
        "whsec_two",
    ]
    assert settings.stripe_api_version == "2026-08-26.preview"
    assert settings.database_url is not None
    assert settings.stripe_max_network_retries == 3
    assert settings.return_url_allowlist == ["https://app.example.com", "myapp://"]
    assert settings.stripe_mode == "test"
    assert "sk_test_abc" not in repr(settings)


@pytest.mark.parametrize(
    ("values", "sentence"),
    [
        ({"stripe_secret_key": "pk_test_abc"}, "must be a Stripe secret key"),
        (
            {"stripe_secret_key": "sk_live_abc", "auth_jwt_secret": SECRET},
            "needs STRIPE_WEBHOOK_SECRET",
        ),
        (
            {"stripe_secret_key": "sk_test_abc", "stripe_publishable_key": "pk_live_abc"},
            "same mode",
        ),
        ({"stripe_publishable_key": "sk_test_abc"}, "must be a publishable key"),
        ({"stripe_webhook_secrets": "secret"}, "whsec_"),
        ({"auth_jwt_secret": "short"}, "at least 32 bytes"),
        (
            {"auth_jwt_secret": SECRET, "auth_jwks_url": "https://idp.example/jwks"},
            "not both",
        ),
        (
            {
                "stripe_secret_key": "sk_live_abc",
                "stripe_webhook_secrets": "whsec_x",
                "stripe_api_base": "http://127.0.0.1:9",
            },
            "RELINK_STRIPE_API_BASE",
        ),
        ({"return_url_allowlist": "https://app.example.com/path"}, "no path"),
        ({"return_url_allowlist": "javascript://"}, "not an allowed app scheme"),
        ({"db_pool_min_size": 5, "db_pool_max_size": 2}, "must not exceed"),
        ({"database_url": "mysql://root:sk_live_abc@db/app"}, "must be a PostgreSQL URL"),
        ({"database_url": "db.example:5432/app"}, "must be a PostgreSQL URL"),
    ],
)
def test_unsafe_or_contradictory_configuration_stops_with_one_sentence(
    values: dict[str, object], sentence: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(**values)  # type: ignore[arg-type]
    message = str(caught.value)
    assert sentence in message
    assert message.count("\n") == 0
    assert "sk_live_abc" not in message


def test_both_postgresql_schemes_are_accepted() -> None:
    for url in ("postgresql://u:p@db/app", "postgres://u:p@db/app"):
        assert Settings(database_url=url).database_url is not None  # type: ignore[arg-type]


def test_the_sandbox_is_off_and_kept_on_loopback_unless_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not Settings().sandbox
    assert not Settings().sandbox_allow_remote
    monkeypatch.setenv("RELINK_SANDBOX", "true")
    monkeypatch.setenv("RELINK_SANDBOX_ALLOW_REMOTE", "true")
    assert Settings().sandbox
    assert Settings().sandbox_allow_remote


def test_missing_for_serving_names_each_setting() -> None:
    # No key at all: nothing to list (`serve` then needs the sandbox asked for).
    assert Settings().missing_for_serving() == []
    missing = Settings(stripe_secret_key="sk_test_abc").missing_for_serving()  # type: ignore[arg-type]
    joined = " ".join(missing)
    assert "STRIPE_PUBLISHABLE_KEY" in joined
    assert "RELINK_AUTH_JWT_SECRET" in joined
    complete = Settings(
        stripe_secret_key="sk_test_abc",  # type: ignore[arg-type]
        stripe_publishable_key="pk_test_abc",
        auth_jwt_secret=SECRET,  # type: ignore[arg-type]
    )
    assert complete.missing_for_serving() == []


def test_the_sandbox_is_refused_with_a_real_key() -> None:
    with pytest.raises(ConfigurationError, match="cannot run with a real STRIPE_SECRET_KEY"):
        Settings(sandbox=True, stripe_secret_key="sk_test_abc")  # type: ignore[arg-type]


DIGEST = "a1" * 32
OTHER_DIGEST = "0f" * 32


def test_reads_admin_key_digests_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELINK_ADMIN_API_KEY_SHA256", f" {DIGEST} ,{OTHER_DIGEST},")

    settings = Settings()

    assert settings.admin_api_key_digests == [DIGEST, OTHER_DIGEST]
    assert DIGEST not in repr(settings)


def test_an_empty_admin_digest_means_no_operator_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELINK_ADMIN_API_KEY_SHA256", "")

    settings = Settings()

    assert settings.admin_api_key_sha256 is None
    assert settings.admin_api_key_digests == []


@pytest.mark.parametrize(
    "value",
    [
        DIGEST.upper(),
        DIGEST[:-1],
        DIGEST + "0",
        "g" * 64,
        f"{DIGEST},{DIGEST[:10]}",
        "rk_admin_" + "k" * 43,
        ",",
    ],
    ids=["upper-case", "63-chars", "65-chars", "not-hex", "one-bad-of-two", "the-key", "commas"],
)
def test_a_malformed_admin_digest_stops_with_one_sentence(value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(admin_api_key_sha256=value)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith("RELINK_ADMIN_API_KEY_SHA256 must hold SHA-256 digests")
    assert "relink-api admin-key" in message
    assert message.count("\n") == 0
    # A key pasted where its digest belongs must not end up in a log.
    assert "rk_admin_" not in message
