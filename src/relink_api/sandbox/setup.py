"""Sandbox mode's settings: generated keys and secrets, kept in the data folder so that
tokens and signatures survive restarts."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from relink_api.auth import admin_key_digest, generate_admin_key
from relink_api.settings import SANDBOX_KEY_PREFIX, ConfigurationError, Settings

SECRETS_FILE = "sandbox-secrets.json"
# Who the demo's ACH mandate authorizes to debit, unless RELINK_BUSINESS_NAME says otherwise.
SANDBOX_BUSINESS_NAME = "Sandbox Demo Shop"


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a bind address or a peer's address) is this machine's loopback
    only. A name other than ``localhost`` is not trusted to be: it may resolve elsewhere."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def secrets_path(settings: Settings) -> Path:
    """Where a sandbox on this data folder keeps its generated keys and secrets."""
    return settings.data_dir.expanduser().resolve() / SECRETS_FILE


def stored_secrets(settings: Settings) -> dict[str, str] | None:
    """The secrets a sandbox already made in this data folder, or ``None``; never makes any."""
    path = secrets_path(settings)
    if not path.is_file():
        return None
    stored: dict[str, str] = json.loads(path.read_text())
    return stored


def _admin_key() -> dict[str, str]:
    key = generate_admin_key()
    return {"admin_api_key": key, "admin_api_key_sha256": admin_key_digest(key)}


def _write(path: Path, values: dict[str, str]) -> None:
    # Written whole or not at all, readable by this user only.
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    temporary.replace(path)


def _load_or_create(data_dir: Path) -> dict[str, str]:
    path = data_dir / SECRETS_FILE
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        if "admin_api_key" not in stored:
            # A data folder from before the operator API: add a key, keep everything else.
            stored.update(_admin_key())
            _write(path, stored)
        return stored
    data_dir.mkdir(parents=True, exist_ok=True)
    suffix = secrets.token_hex(8)
    values = {
        # Shaped as Stripe's keys are (no ``_`` after the mode's prefix), so that a server
        # that is not a sandbox accepts them as STRIPE_SECRET_KEY with its API base pointed
        # at this sandbox.
        "secret_key": f"{SANDBOX_KEY_PREFIX}{suffix}",
        "publishable_key": f"pk_test_sandbox{suffix}",
        "webhook_secret": "whsec_" + secrets.token_hex(24),
        "jwt_secret": secrets.token_hex(32),
        **_admin_key(),
    }
    _write(path, values)
    return values


def sandbox_admin_key(settings: Settings) -> str | None:
    """The sandbox's own admin key, when the settings let it in (an operator's own
    RELINK_ADMIN_API_KEY_SHA256 takes its place)."""
    stored = stored_secrets(settings)
    key = stored.get("admin_api_key") if stored is not None else None
    if not isinstance(key, str) or admin_key_digest(key) not in settings.admin_api_key_digests:
        return None
    return key


def sandbox_settings(settings: Settings, *, host: str, port: int) -> Settings:
    """The settings of a server that simulates Stripe at ``http://host:port``.

    Refuses a non-loopback ``host`` unless RELINK_SANDBOX_ALLOW_REMOTE is set: the sandbox's
    controls act for every customer, and off loopback they are one admin key away."""
    if not is_loopback(host) and not settings.sandbox_allow_remote:
        raise ConfigurationError(
            f"The sandbox listens only on a loopback address (127.0.0.1, ::1 or localhost), "
            f"not {host or 'every address'}: bind 127.0.0.1 (RELINK_HOST or --host), or set "
            "RELINK_SANDBOX_ALLOW_REMOTE=true to serve it there with its controls behind its "
            "admin key."
        )
    values = _load_or_create(settings.data_dir.expanduser().resolve())
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = settings.public_base_url or f"http://{reachable}:{port}"
    update: dict[str, object] = {
        "sandbox": True,
        "stripe_secret_key": SecretStr(values["secret_key"]),
        "stripe_publishable_key": values["publishable_key"],
        "stripe_webhook_secrets": [SecretStr(values["webhook_secret"])],
        "stripe_api_base": f"{base}/sandbox/stripe",
        "public_base_url": base,
        # Where it listens, so start-up knows whether it may print its secrets.
        "host": host,
        "port": port,
    }
    if settings.business_name is None:
        update["business_name"] = SANDBOX_BUSINESS_NAME
    if not settings.auth_configured:
        update["auth_jwt_secret"] = SecretStr(values["jwt_secret"])
    if settings.admin_api_key_sha256 is None:
        update["admin_api_key_sha256"] = SecretStr(values["admin_api_key_sha256"])
    return settings.model_copy(update=update)
