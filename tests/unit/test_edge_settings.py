"""The HTTP edge's settings: limits, trusted proxies and CORS origins, refused with one
sentence when unsafe or malformed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from relink_api.settings import ConfigurationError, Settings


def test_defaults_bound_bodies_and_headers_and_trust_no_proxy_or_origin() -> None:
    settings = Settings()

    assert settings.max_body_bytes == 16 * 1024
    assert settings.max_header_bytes == 32 * 1024
    assert settings.forwarded_allow_ips == []
    assert settings.cors_allowed_origins == []


def test_cors_origins_are_exact_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "RELINK_CORS_ALLOWED_ORIGINS", " https://App.Example.com , http://localhost:5173/"
    )

    assert Settings().cors_allowed_origins == ["https://app.example.com", "http://localhost:5173"]


@pytest.mark.parametrize(
    "value",
    [
        "*",
        "https://*.example.com",
        "https://app.example.com/path",
        "https://app.example.com?x=1",
        "app.example.com",
        "myapp://",
        "ftp://app.example.com",
        "https://user@app.example.com",
    ],
)
def test_a_cors_entry_that_is_not_an_origin_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RELINK_CORS_ALLOWED_ORIGINS", f"https://ok.example.com,{value}")

    with pytest.raises(ConfigurationError, match=r"^RELINK_CORS_ALLOWED_ORIGINS: ") as caught:
        Settings()
    assert str(caught.value).count(".") >= 1
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "trusted"),
    [
        ("127.0.0.1, 10.0.0.0/8,::1", ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]),
        ("*", ["*"]),
        ("10.0.0.1,*", ["*"]),
    ],
)
def test_trusted_proxies_are_addresses_or_networks(
    monkeypatch: pytest.MonkeyPatch, value: str, trusted: list[str]
) -> None:
    monkeypatch.setenv("RELINK_FORWARDED_ALLOW_IPS", value)

    assert Settings().forwarded_allow_ips == trusted


def test_a_trusted_proxy_that_is_not_an_address_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELINK_FORWARDED_ALLOW_IPS", "proxy.local")

    with pytest.raises(ConfigurationError, match=r"^RELINK_FORWARDED_ALLOW_IPS: 'proxy\.local'"):
        Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RELINK_MAX_BODY_BYTES", "100"),
        ("RELINK_MAX_HEADER_BYTES", "1024"),
        ("RELINK_MAX_HEADER_BYTES", "1000000000"),
    ],
)
def test_limits_outside_their_range_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError):
        Settings()
