"""Every knob of the service, read from the environment (``RELINK_…``, ``STRIPE_…``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from relink_api.edge.cors import normalize_origins
from relink_api.edge.proxy import normalize_proxy_entries
from relink_api.metrics.settings import MetricsSettings
from relink_api.outbound.settings import OutboundSettings
from relink_api.prompts.settings import PromptSettings
from relink_api.reconcile.settings import ReconcileSettings
from relink_api.redirects import InvalidAllowlistEntry, normalize_allowlist_entry
from relink_api.serving.settings import ServeSettings

# The API version the pinned SDK (stripe==16.1.0b1) was generated for. Relink needs a
# preview version, and the SDK's types only describe its own. A unit test keeps this
# constant equal to the SDK's, so settings.py need not import stripe.
DEFAULT_STRIPE_API_VERSION = "2026-09-30.preview"

_SECRET_KEY = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]+$")
_PUBLISHABLE_KEY = re.compile(r"^pk_(test|live)_[A-Za-z0-9]+$")
_MIN_JWT_SECRET_BYTES = 32
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# Keys the sandbox generates for itself; a real key never starts like this.
SANDBOX_KEY_PREFIX = "sk_test_sandbox"
# What asyncpg accepts as a DSN.
_POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")


class ConfigurationError(Exception):
    """Configuration that must not be run with; the message is one sentence for a person."""


def _entries(setting: str, value: object, normalize: Callable[[list[str]], list[str]]) -> object:
    """A comma-separated setting (or a list) as ``normalize`` writes its entries; an entry it
    refuses (``ValueError``) is one sentence naming the setting."""
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        return value
    try:
        return normalize([str(entry).strip() for entry in value])
    except ValueError as exc:
        raise ConfigurationError(f"{setting}: {exc}") from None


class Settings(
    ReconcileSettings,
    OutboundSettings,
    PromptSettings,
    MetricsSettings,
    ServeSettings,
    BaseSettings,
):
    """relink-api configuration; secrets are ``SecretStr`` so they never print by accident.
    The reconciliation, outbound, reminder, metrics and workers knobs are declared with their
    features."""

    model_config = SettingsConfigDict(
        env_prefix="RELINK_",
        extra="ignore",
        populate_by_name=True,
        frozen=True,
    )

    # --- Stripe -----------------------------------------------------------------------
    stripe_secret_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("STRIPE_SECRET_KEY", "stripe_secret_key"),
        description="sk_test_… / sk_live_… (or a restricted rk_… key).",
    )
    stripe_publishable_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("STRIPE_PUBLISHABLE_KEY", "stripe_publishable_key"),
    )
    stripe_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("STRIPE_WEBHOOK_SECRET", "stripe_webhook_secrets"),
        description="whsec_…; comma-separated while a secret is being rolled.",
    )
    stripe_api_version: str = Field(
        default=DEFAULT_STRIPE_API_VERSION,
        validation_alias=AliasChoices("STRIPE_API_VERSION", "stripe_api_version"),
    )
    stripe_api_base: str | None = Field(
        default=None,
        description="Overrides https://api.stripe.com (the sandbox and tests use it).",
    )
    # The SDK defaults (80 s, no retries on StripeClient) suit neither a request path nor
    # Stripe's 25 req/s limit; these are chosen for an interactive API.
    stripe_timeout_seconds: float = Field(default=10.0, gt=0, le=80)
    stripe_max_network_retries: int = Field(default=2, ge=0, le=5)

    # --- Webhooks (reconciliation's knobs: reconcile/settings.py) ------------------------
    webhook_tolerance_seconds: int = Field(
        default=300, ge=1, le=3600, description="Signature age (past or future) accepted."
    )
    # Stripe resends for 3 days and lets operators resend for 30: ids are kept at least 30.
    webhook_retention_days: int = Field(default=30, ge=30)

    # --- Rate limits (issue 11) --------------------------------------------------------
    # Per customer, across the routes that call Stripe (refresh, authorization, relink
    # sessions and their payment methods). A person repairing a link makes a handful of such
    # calls a minute; 20 a minute with a burst of 10 lets that through untouched and cuts a
    # scripted burst (150 refreshes in a second) to 10.
    rate_limit_customer_per_minute: float = Field(default=20, gt=0, le=6000)
    rate_limit_customer_burst: int = Field(default=10, ge=1, le=1000)
    # Per operator key, on the operator routes that call Stripe (the relink email): one a
    # second on average, enough to work through a list, not to flood Stripe.
    rate_limit_operator_per_minute: float = Field(default=60, gt=0, le=6000)
    rate_limit_operator_burst: int = Field(default=10, ge=1, le=1000)
    # Per client address: failed admin keys and /relink/return links that do not match.
    rate_limit_failed_guesses_per_minute: float = Field(default=10, gt=0, le=6000)
    rate_limit_failed_guesses_burst: int = Field(default=10, ge=1, le=1000)
    # Every HTTP attempt to Stripe (retries included), from every process: 20 a second with
    # bursts of 5 never exceeds test mode's 25 in one second; raised up to what the account's
    # Stripe limit allows (docs/stripe.md §7).
    stripe_requests_per_second: float = Field(default=20, gt=0, le=10_000)
    stripe_requests_burst: int = Field(default=5, ge=1, le=100)
    stripe_budget_wait_seconds: float = Field(
        default=2.0,
        ge=0,
        le=10,
        description="How long a request waits for the Stripe budget before a 503.",
    )

    # --- Database ---------------------------------------------------------------------
    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "database_url"),
        description="postgresql://…; unset starts an embedded PostgreSQL in data_dir.",
    )
    data_dir: Path = Field(default=Path(".relink-data"))
    db_pool_min_size: int = Field(default=1, ge=0)
    db_pool_max_size: int = Field(default=10, ge=1)
    db_command_timeout_seconds: float = Field(default=10.0, gt=0)
    # --- Database faults (pool waits, the embedded server's restarts) ---
    db_acquire_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="How long a request waits for a pooled connection before a 503.",
    )
    embedded_db_unhealthy_after_seconds: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        description="How long the embedded PostgreSQL may stay down, while it is restarted "
        "with backoff, before /healthz answers 503 (so an orchestrator restarts the process).",
    )

    # --- Auth -------------------------------------------------------------------------
    auth_jwt_secret: SecretStr | None = Field(default=None, description="HS256 shared secret.")
    auth_jwks_url: str | None = Field(default=None, description="JWKS for RS256/ES256 tokens.")
    auth_issuer: str | None = None
    auth_audience: str | None = None
    auth_customer_claim: str = "stripe_customer"
    auth_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # Only digests: a leaked environment or config dump does not hand out operator access.
    admin_api_key_sha256: SecretStr | None = Field(
        default=None,
        description="SHA-256 (hex) of the operator API key; comma-separated while rotating. "
        "`relink-api admin-key` makes a key and its digest.",
    )

    # --- HTTP ---------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    return_url_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Exact origins (https://app.example.com) or app schemes (myapp://).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] | None = Field(
        default=None,
        description="json (one object a line) or console (readable); unset: json, but "
        "console for the sandbox (docs/operating.md).",
    )
    # No placeholder: the mandate is a legal text, and "this business" authorizes no one.
    # Payment setup refuses to start without it (relink_api.payments.setup); the sandbox
    # names its demo shop.
    business_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Who the ACH mandate authorizes to debit the customer's account; "
        "payment setup needs it.",
    )
    public_base_url: str | None = Field(
        default=None,
        description="How this server is reached (http://host:port); the sandbox calls itself here.",
    )

    # --- HTTP edge: body and header limits, proxies, CORS (relink_api.edge) -------------
    # The largest legitimate JSON body (a relink session with a 2048-character return_url,
    # every character \u-escaped) is about 12 KiB; the webhook and the sandbox's Stripe API
    # have limits of their own (relink_api.edge.body_limit).
    max_body_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        le=1024 * 1024,
        description="Largest request body the JSON routes accept; larger ones get a 413.",
    )
    # A JWT bearer token (the largest legitimate header) is a few KiB; cookies a browser
    # sends along to the API's domain can add more. Memory per connection stays this small.
    max_header_bytes: int = Field(
        default=32 * 1024,
        ge=4 * 1024,
        le=1024 * 1024,
        description="Largest request line plus headers accepted; larger ones get a 431.",
    )
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Proxies (IPs, CIDRs, or * for any) whose X-Forwarded-For/-Proto are "
        "believed; empty: none.",
    )
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Exact origins (https://app.example.com) whose pages may call the API "
        "from a browser; empty: no CORS.",
    )

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _split_forwarded_allow_ips(cls, value: object) -> object:
        return _entries("RELINK_FORWARDED_ALLOW_IPS", value, normalize_proxy_entries)

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_cors_origins(cls, value: object) -> object:
        return _entries("RELINK_CORS_ALLOWED_ORIGINS", value, normalize_origins)

    # --- Sandbox ------------------------------------------------------------------------
    # Asked for by name only: a server that merely lacks keys must not become a sandbox,
    # whose controls mint tokens and list every hosted relink URL.
    sandbox: bool = Field(
        default=False,
        description="Simulate Stripe in-process (RELINK_SANDBOX=true or `serve --sandbox`); "
        "refused alongside a real key.",
    )
    sandbox_allow_remote: bool = Field(
        default=False,
        description="Let the sandbox bind a non-loopback address; its controls then take its "
        "admin key from callers on other hosts.",
    )

    # --- DATABASE_URL's scheme: one sentence, before anything tries to connect ----------
    @field_validator("database_url", mode="after")
    @classmethod
    def _postgresql_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(_POSTGRESQL_SCHEMES):
            # The value is not echoed: it may hold a password.
            raise ConfigurationError(
                "DATABASE_URL must be a PostgreSQL URL "
                "(postgresql://user:password@host:5432/database); the value given is not one."
            )
        return value

    @field_validator("stripe_webhook_secrets", mode="before")
    @classmethod
    def _split_webhook_secrets(cls, value: object) -> object:
        # An empty variable (STRIPE_WEBHOOK_SECRET=) means "not set", like the others.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("return_url_allowlist", mode="before")
    @classmethod
    def _split_allowlist(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            try:
                return [normalize_allowlist_entry(str(entry)) for entry in value]
            except InvalidAllowlistEntry as exc:
                raise ConfigurationError(f"RELINK_RETURN_URL_ALLOWLIST: {exc}") from None
        return value

    @field_validator(
        "stripe_secret_key",
        "stripe_publishable_key",
        "stripe_api_base",
        "database_url",
        "auth_jwt_secret",
        "auth_jwks_url",
        "auth_issuer",
        "auth_audience",
        "admin_api_key_sha256",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _refuse_unsafe_combinations(self) -> Self:
        problem = self._first_problem()
        if problem is not None:
            raise ConfigurationError(problem)
        return self

    def _first_problem(self) -> str | None:
        secret = self.stripe_secret_key.get_secret_value() if self.stripe_secret_key else None
        if secret is not None and not _SECRET_KEY.match(secret):
            return (
                "STRIPE_SECRET_KEY must be a Stripe secret key (sk_test_…, sk_live_… or a "
                "restricted rk_… key); the value given is not one."
            )
        if self.stripe_publishable_key is not None:
            match = _PUBLISHABLE_KEY.match(self.stripe_publishable_key)
            if match is None:
                return "STRIPE_PUBLISHABLE_KEY must be a publishable key (pk_test_… or pk_live_…)."
            if secret is not None and match.group(1) != self.stripe_mode:
                return (
                    f"STRIPE_PUBLISHABLE_KEY is a {match.group(1)}-mode key but STRIPE_SECRET_KEY "
                    f"is a {self.stripe_mode}-mode key; both must come from the same mode."
                )
        for webhook_secret in self.stripe_webhook_secrets:
            if not webhook_secret.get_secret_value().startswith("whsec_"):
                return "STRIPE_WEBHOOK_SECRET must hold whsec_… signing secrets, comma-separated."
        if self.auth_jwt_secret is not None and self.auth_jwks_url is not None:
            return "Set either RELINK_AUTH_JWT_SECRET or RELINK_AUTH_JWKS_URL, not both."
        if (
            self.auth_jwt_secret is not None
            and len(self.auth_jwt_secret.get_secret_value().encode()) < _MIN_JWT_SECRET_BYTES
        ):
            return f"RELINK_AUTH_JWT_SECRET must be at least {_MIN_JWT_SECRET_BYTES} bytes long."
        if self.auth_jwks_url is not None and not self.auth_jwks_url.startswith("https://"):
            if self.stripe_mode == "live":
                return "RELINK_AUTH_JWKS_URL must be an https:// URL with a live Stripe key."
        if self.stripe_mode == "live":
            if not self.stripe_webhook_secrets:
                return (
                    "A live STRIPE_SECRET_KEY needs STRIPE_WEBHOOK_SECRET: without it, broken "
                    "links are never learned of and webhooks cannot be verified."
                )
            if self.stripe_api_base is not None:
                return "RELINK_STRIPE_API_BASE must not be set with a live STRIPE_SECRET_KEY."
        if self.sandbox and secret is not None and not secret.startswith(SANDBOX_KEY_PREFIX):
            return (
                "The sandbox simulates Stripe and cannot run with a real STRIPE_SECRET_KEY; "
                "unset one or the other."
            )
        if self.sandbox and self.stripe_api_base is None and secret is not None:
            return "The sandbox needs RELINK_STRIPE_API_BASE pointing at its own API."
        if self.db_pool_min_size > self.db_pool_max_size:
            return "RELINK_DB_POOL_MIN_SIZE must not exceed RELINK_DB_POOL_MAX_SIZE."
        if self.admin_api_key_sha256 is not None and (
            not self.admin_api_key_digests
            or not all(_SHA256_HEX.match(digest) for digest in self.admin_api_key_digests)
        ):
            return (
                "RELINK_ADMIN_API_KEY_SHA256 must hold SHA-256 digests of admin keys as 64 "
                "lowercase hex characters, comma-separated; `relink-api admin-key` prints one."
            )
        return None

    @property
    def stripe_mode(self) -> Literal["test", "live"] | None:
        """``test`` or ``live`` from the secret key, ``None`` when no key is set."""
        if self.stripe_secret_key is None:
            return None
        return "live" if "_live_" in self.stripe_secret_key.get_secret_value() else "test"

    @property
    def auth_configured(self) -> bool:
        return self.auth_jwt_secret is not None or self.auth_jwks_url is not None

    @property
    def admin_api_key_digests(self) -> list[str]:
        """The SHA-256 hex digests of the admin keys let in; empty: no operator API."""
        if self.admin_api_key_sha256 is None:
            return []
        value = self.admin_api_key_sha256.get_secret_value()
        return [part.strip() for part in value.split(",") if part.strip()]

    def missing_for_serving(self) -> list[str]:
        """Settings that ``serve`` against real Stripe cannot start without, each with what
        to give it. Without a secret key nothing is listed: ``serve`` then stops unless the
        sandbox, which provides them all, was asked for."""
        missing: list[str] = []
        if self.stripe_secret_key is None:
            return missing
        if self.stripe_publishable_key is None:
            missing.append("STRIPE_PUBLISHABLE_KEY (pk_test_… from the same page)")
        if not self.auth_configured:
            missing.append(
                "RELINK_AUTH_JWT_SECRET (32+ random bytes, e.g. `openssl rand -hex 32`) "
                "or RELINK_AUTH_JWKS_URL"
            )
        return missing
