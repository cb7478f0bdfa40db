"""The Idempotency-Key header's rules, the body fingerprint, and ids derived from a claim."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from relink_api.idempotency.errors import IdempotencyKeyInvalid
from relink_api.idempotency.service import Claim, fingerprint, parse_key
from relink_api.relink.schemas import RelinkScope, RelinkSessionCreate

AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_a_missing_header_is_no_key() -> None:
    assert parse_key(None, method="POST", path="/v1/relink-sessions") is None


@pytest.mark.parametrize("key", ["a", "k" * 255, "order 42/retry:1", "~!@#$%^&*()"])
def test_printable_ascii_up_to_255_is_a_key(key: str) -> None:
    parsed = parse_key(key, method="POST", path="/p")
    assert parsed is not None
    assert (parsed.value, parsed.method, parsed.path) == (key, "POST", "/p")


@pytest.mark.parametrize("key", ["", "k" * 256, "caf\u00e9", "a\tb", "a\x7fb"])
def test_anything_else_is_refused(key: str) -> None:
    with pytest.raises(IdempotencyKeyInvalid):
        parse_key(key, method="POST", path="/p")


def test_fingerprint_ignores_how_the_same_body_was_spelled() -> None:
    implicit = RelinkSessionCreate(account_id="fca_1")
    explicit = RelinkSessionCreate(account_id="fca_1", scope=RelinkScope.account)
    other = RelinkSessionCreate(account_id="fca_1", scope=RelinkScope.institution)
    assert fingerprint(implicit) == fingerprint(explicit)
    assert fingerprint(implicit) != fingerprint(other)
    assert fingerprint(None) != fingerprint(implicit)


def test_derived_ids_depend_on_purpose_caller_key_and_claim_time() -> None:
    claim = Claim(principal="customer:cus_A", key="k", created_at=AT)
    same = Claim(principal="customer:cus_A", key="k", created_at=AT)
    assert claim.derive("relink-session") == same.derive("relink-session")
    assert len(claim.derive("relink-session")) == 24
    others = {
        claim.derive("setup-intent"),
        Claim(principal="customer:cus_B", key="k", created_at=AT).derive("relink-session"),
        Claim(principal="customer:cus_A", key="k2", created_at=AT).derive("relink-session"),
        Claim(principal="customer:cus_A", key="k", created_at=AT.replace(hour=13)).derive(
            "relink-session"
        ),
    }
    assert claim.derive("relink-session") not in others
    assert len(others) == 4
