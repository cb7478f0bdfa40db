"""Verified bearer tokens are trusted again without a second verification, but never past
their expiry, never for another token's bytes, and at most VERIFIED_TOKENS_KEPT of them."""

from __future__ import annotations

import datetime
import time
from typing import Any

import jwt
import pytest

from relink_api import auth
from relink_api.auth import Authenticator, Principal, VerifiedTokens
from relink_api.errors import Unauthorized
from tests.conftest import JWT_SECRET, make_settings


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token the authenticator verifies in full."""
    seen: list[str] = []
    decode = jwt.decode

    def counted(token: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted)
    return seen


def token(customer: str, *, exp_in: int = 600, secret: str = JWT_SECRET) -> str:
    claims = {"stripe_customer": customer, "sub": customer, "exp": int(time.time()) + exp_in}
    return jwt.encode(claims, secret, algorithm="HS256")


def authenticator() -> Authenticator:
    return Authenticator(make_settings("postgresql://unused/unused", auth_leeway_seconds=0))


async def test_a_token_is_verified_once_then_trusted(decodes: list[str]) -> None:
    checker, sent = authenticator(), token("cus_A")
    first = await checker.authenticate(f"Bearer {sent}")
    again = await checker.authenticate(f"Bearer {sent}")
    assert first == again == Principal(customer_id="cus_A", subject="cus_A")
    assert decodes == [sent]


async def test_a_trusted_token_is_refused_once_it_expires(
    decodes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    checker, sent = authenticator(), token("cus_A", exp_in=5)
    await checker.authenticate(f"Bearer {sent}")
    later = time.time() + 6
    monkeypatch.setattr(auth, "time", _Clock(later))
    monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime(later))
    with pytest.raises(Unauthorized, match="expired"):
        await checker.authenticate(f"Bearer {sent}")
    assert decodes == [sent, sent]


async def test_no_token_is_trusted_longer_than_a_minute(
    decodes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    checker, sent = authenticator(), token("cus_A", exp_in=3600)
    await checker.authenticate(f"Bearer {sent}")
    later = time.time() + auth.VERIFIED_TOKEN_SECONDS + 1
    monkeypatch.setattr(auth, "time", _Clock(later))
    await checker.authenticate(f"Bearer {sent}")
    assert decodes == [sent, sent]


async def test_a_forged_signature_beside_a_trusted_token_is_verified_and_refused(
    decodes: list[str],
) -> None:
    checker, sent = authenticator(), token("cus_A")
    await checker.authenticate(f"Bearer {sent}")
    forged = token("cus_A", secret="not-the-secret-" + "x" * 32)
    with pytest.raises(Unauthorized, match="not valid"):
        await checker.authenticate(f"Bearer {forged}")
    assert decodes == [sent, forged]


def test_the_least_recently_used_token_goes_first() -> None:
    kept = VerifiedTokens(kept=2)
    far = time.time() + 60
    for name in (b"a", b"b"):
        kept.keep(name, Principal(customer_id=name.decode()), far)
    assert kept.get(b"a", time.time()) is not None  # "a" used: "b" is now the oldest
    kept.keep(b"c", Principal(customer_id="c"), far)
    assert len(kept) == 2
    assert kept.get(b"b", time.time()) is None
    assert kept.get(b"a", time.time()) is not None


class _Clock:
    """``time`` as relink_api.auth reads it, at ``at``."""

    def __init__(self, at: float) -> None:
        self._at = at

    def time(self) -> float:
        return self._at


class _FrozenDatetime:
    """PyJWT's clock (``datetime.now``) at ``at``."""

    def __init__(self, at: float) -> None:
        self._at = at

    def now(self, tz: Any = None) -> Any:
        return datetime.datetime.fromtimestamp(self._at, tz)
