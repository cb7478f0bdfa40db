"""Admin API keys: their shape, the digest check (every configured digest, in constant time),
each refusal, and the key the sandbox keeps for itself."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import stat
from pathlib import Path

import pytest

from relink_api.auth import (
    ADMIN_KEY_PREFIX,
    Operator,
    admin_key_digest,
    authenticate_admin,
    generate_admin_key,
)
from relink_api.errors import AdminUnauthorized
from relink_api.sandbox.setup import SECRETS_FILE, sandbox_admin_key, sandbox_settings
from relink_api.settings import Settings

KEY = "rk_admin_" + "k" * 43
OTHER_KEY = "rk_admin_" + "o" * 43
BEARER = "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig"


def configured(*keys: str) -> Settings:
    return Settings(admin_api_key_sha256=",".join(admin_key_digest(k) for k in keys))  # type: ignore[arg-type]


def refusal(settings: Settings, key: str | None, authorization: str | None = None) -> str:
    with pytest.raises(AdminUnauthorized) as caught:
        authenticate_admin(settings, key=key, authorization_header=authorization)
    error = caught.value
    assert error.status == 401
    assert error.headers == {"WWW-Authenticate": 'ApiKey realm="relink-api-admin"'}
    return error.detail


def test_a_generated_key_is_prefixed_url_safe_and_256_bits() -> None:
    keys = {generate_admin_key() for _ in range(50)}

    assert len(keys) == 50
    for key in keys:
        assert re.fullmatch(rf"{ADMIN_KEY_PREFIX}[A-Za-z0-9_-]{{43}}", key), key


def test_the_digest_is_the_plain_sha256_hex_of_the_key() -> None:
    assert admin_key_digest(KEY) == hashlib.sha256(KEY.encode()).hexdigest()


def test_the_right_key_lets_the_operator_in() -> None:
    operator = authenticate_admin(configured(KEY), key=KEY, authorization_header=None)

    assert operator == Operator(key_id=admin_key_digest(KEY)[:8])


def test_each_key_of_a_rotation_list_is_let_in_and_told_apart() -> None:
    settings = configured(OTHER_KEY, KEY)

    first = authenticate_admin(settings, key=OTHER_KEY, authorization_header=None)
    second = authenticate_admin(settings, key=KEY, authorization_header=None)

    assert first.key_id == admin_key_digest(OTHER_KEY)[:8]
    assert second.key_id == admin_key_digest(KEY)[:8]
    # Rotated out: the old key's digest is gone from the list.
    assert "not valid" in refusal(configured(KEY), OTHER_KEY)


@pytest.mark.parametrize("position", [0, 1, 2])
def test_every_digest_is_compared_whichever_matches(
    monkeypatch: pytest.MonkeyPatch, position: int
) -> None:
    keys = [f"rk_admin_{n}" for n in range(3)]
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)

    authenticate_admin(configured(*keys), key=keys[position], authorization_header=None)

    assert len(compared) == 3
    assert [b.hex() for _, b in compared] == [admin_key_digest(k) for k in keys]


@pytest.mark.parametrize(
    "wrong",
    [OTHER_KEY, KEY[:-1], KEY + "x", KEY.upper(), admin_key_digest(KEY), " " + KEY, "é"],
    ids=["other-key", "truncated", "extended", "upper-case", "the-digest", "space", "non-ascii"],
)
def test_every_wrong_key_gets_one_and_the_same_answer(wrong: str) -> None:
    assert refusal(configured(KEY), wrong) == "The admin API key is not valid."


@pytest.mark.parametrize("key", [None, ""], ids=["no-header", "empty-header"])
def test_no_key_says_none_was_sent(key: str | None) -> None:
    detail = refusal(configured(KEY), key)

    assert detail.startswith("No admin API key was sent")
    assert "X-Admin-Key" in detail


@pytest.mark.parametrize("authorization", [BEARER, f"Bearer {KEY}"], ids=["jwt", "admin-key"])
def test_an_authorization_header_is_not_an_admin_key(authorization: str) -> None:
    detail = refusal(configured(KEY), None, authorization)

    assert detail.startswith("No admin API key was sent")
    assert "Authorization header does not count" in detail


def test_with_no_digest_configured_every_request_is_told_so() -> None:
    for key in (None, KEY):
        detail = refusal(Settings(), key)
        assert "operator API is not configured" in detail
        assert "RELINK_ADMIN_API_KEY_SHA256" in detail


# --- the sandbox's own key ------------------------------------------------------------


def test_the_sandbox_makes_a_key_once_and_lets_it_in(tmp_path: Path) -> None:
    settings = sandbox_settings(Settings(data_dir=tmp_path), host="127.0.0.1", port=8000)
    again = sandbox_settings(Settings(data_dir=tmp_path), host="127.0.0.1", port=8000)

    path = tmp_path / SECRETS_FILE
    stored = json.loads(path.read_text())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = stored["admin_api_key"]
    assert key.startswith(ADMIN_KEY_PREFIX)
    assert stored["admin_api_key_sha256"] == admin_key_digest(key)
    assert settings.admin_api_key_digests == [admin_key_digest(key)]
    assert again.admin_api_key_digests == settings.admin_api_key_digests
    assert sandbox_admin_key(settings) == key
    assert authenticate_admin(settings, key=key, authorization_header=None)


def test_an_older_sandbox_secrets_file_gains_a_key_and_keeps_the_rest(tmp_path: Path) -> None:
    older = {
        "secret_key": "sk_test_sandbox_0123456789abcdef",
        "publishable_key": "pk_test_sandbox_0123456789abcdef",
        "webhook_secret": "whsec_older",
        "jwt_secret": "j" * 64,
    }
    (tmp_path / SECRETS_FILE).write_text(json.dumps(older))

    settings = sandbox_settings(Settings(data_dir=tmp_path), host="127.0.0.1", port=8000)

    stored = json.loads((tmp_path / SECRETS_FILE).read_text())
    assert {name: stored[name] for name in older} == older
    assert settings.stripe_secret_key is not None
    assert settings.stripe_secret_key.get_secret_value() == older["secret_key"]
    assert sandbox_admin_key(settings) == stored["admin_api_key"]


def test_an_operators_own_digest_replaces_the_sandbox_key(tmp_path: Path) -> None:
    own = Settings(data_dir=tmp_path, admin_api_key_sha256=admin_key_digest(KEY))  # type: ignore[arg-type]

    settings = sandbox_settings(own, host="127.0.0.1", port=8000)

    assert settings.admin_api_key_digests == [admin_key_digest(KEY)]
    # The sandbox's key would not open anything, so the banner must not offer it.
    assert sandbox_admin_key(settings) is None
