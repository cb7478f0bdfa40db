"""The Idempotency-Key header's rules, the body fingerprint, and ids derived from a claim."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from relink_api.idempotency.errors import IdempotencyKeyInvalid
from relink_api.idempotency.service import Claim, fingerprint, parse_key
from relink_api.relink.create_schemas import RelinkSessionCreate

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


def _parsed(body: dict[str, object]) -> BaseModel:
    """A create body as the router hands it to the service."""
    return RelinkSessionCreate.model_validate(body).root


def test_fingerprint_ignores_how_the_same_body_was_spelled() -> None:
    implicit = _parsed({"account_id": "fca_1"})
    explicit = _parsed({"account_id": "fca_1", "scope": "account", "ui_mode": "modal"})
    other = _parsed({"account_id": "fca_1", "scope": "institution"})
    assert fingerprint(implicit) == fingerprint(explicit)
    assert fingerprint(implicit) != fingerprint(other)
    assert fingerprint(None) != fingerprint(implicit)


@pytest.mark.parametrize(
    "body",
    [
        {"account_id": "fca_1"},
        {"account_id": "fca_1", "ui_mode": "hosted", "delivery": "url", "return_url": "app://x"},
    ],
)
def test_fingerprints_are_those_of_the_flat_body_keys_were_stored_with(
    body: dict[str, object],
) -> None:
    # Keys claimed before the create body became one schema per ui_mode (and still within
    # their 24 hours after an upgrade) must match a retry of the same body.
    flat = {
        "scope": "account",
        "permissions": None,
        "ui_mode": "modal",
        "delivery": None,
        "return_url": None,
        **body,
    }
    canonical = json.dumps(flat, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert fingerprint(_parsed(body)) == hashlib.sha256(canonical.encode()).hexdigest()


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
