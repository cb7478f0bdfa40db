"""Sandbox settings: loopback only unless allowed, and where its secrets are read from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relink_api.sandbox.setup import (
    SECRETS_FILE,
    is_loopback,
    sandbox_settings,
    stored_secrets,
)
from relink_api.settings import ConfigurationError, Settings


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "", "192.168.1.10", "203.0.113.9", "example.com", "testclient", None]
)
def test_anything_else_is_not_loopback(host: str | None) -> None:
    assert not is_loopback(host)


def test_a_sandbox_off_loopback_is_refused_before_it_makes_secrets(tmp_path: Path) -> None:
    settings = Settings(sandbox=True, data_dir=tmp_path / "data")

    with pytest.raises(ConfigurationError) as refused:
        sandbox_settings(settings, host="0.0.0.0", port=8000)

    assert "RELINK_SANDBOX_ALLOW_REMOTE=true" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert not (tmp_path / "data").exists()


def test_allowed_off_loopback_it_knows_where_it_listens(tmp_path: Path) -> None:
    settings = Settings(sandbox=True, sandbox_allow_remote=True, data_dir=tmp_path)

    served = sandbox_settings(settings, host="0.0.0.0", port=8123)

    assert (served.host, served.port) == ("0.0.0.0", 8123)
    assert served.public_base_url == "http://127.0.0.1:8123"
    assert stored_secrets(served) == json.loads((tmp_path / SECRETS_FILE).read_text())


def test_stored_secrets_never_makes_any(tmp_path: Path) -> None:
    assert stored_secrets(Settings(data_dir=tmp_path)) is None
    assert list(tmp_path.iterdir()) == []


def test_a_sandboxs_keys_are_keys_a_server_that_is_not_a_sandbox_accepts(
    tmp_path: Path,
) -> None:
    # A replica pointed at a sandbox as its Stripe (tests/scale_cluster.py) takes its keys as
    # STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY, which must be shaped as Stripe's are.
    served = sandbox_settings(Settings(sandbox=True, data_dir=tmp_path), host="127.0.0.1", port=8)
    assert served.stripe_secret_key is not None

    replica = Settings(
        stripe_secret_key=served.stripe_secret_key,
        stripe_publishable_key=served.stripe_publishable_key,
        stripe_api_base=served.stripe_api_base,
        data_dir=tmp_path,
    )

    assert replica.stripe_mode == "test"
