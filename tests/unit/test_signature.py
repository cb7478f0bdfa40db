"""The Stripe-Signature scheme (docs/stripe.md §5): parsing, HMAC, secrets and tolerance."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from relink_api.webhooks.signature import SignatureError, parse_header, sign, verify

SECRET = "whsec_unitcurrent"
OTHER_SECRET = "whsec_unitprevious"
PAYLOAD = b'{"id":"evt_unit","object":"event","type":"financial_connections.account.created"}'
NOW = 1_750_000_000
TOLERANCE = 300
HEX_A = "a" * 64
HEX_B = "0123456789abcdef" * 4


def header_for(payload: bytes = PAYLOAD, *, secret: str = SECRET, at: int = NOW) -> str:
    return f"t={at},v1={sign(payload, secret, at)}"


# --- parse_header -------------------------------------------------------------------------


def test_parse_header_reads_the_timestamp_and_every_v1() -> None:
    assert parse_header(f"t=1492774577,v1={HEX_A},v1={HEX_B}") == (1492774577, [HEX_A, HEX_B])


def test_parse_header_ignores_v0_and_other_schemes() -> None:
    header = f"t=1492774577,v0={HEX_B},v1={HEX_A},v2=whatever"
    assert parse_header(header) == (1492774577, [HEX_A])


def test_parse_header_tolerates_spaces_around_items() -> None:
    assert parse_header(f" t=12 , v1={HEX_A} ") == (12, [HEX_A])


def test_parse_header_lowercases_signatures() -> None:
    assert parse_header(f"t=12,v1={HEX_B.upper()}") == (12, [HEX_B])


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"t=12,v1{HEX_A}",
        f"t=12,,v1={HEX_A}",
        f"t=12,v1={HEX_A},",
    ],
    ids=["no-equals", "item-without-equals", "empty-item", "trailing-comma"],
)
def test_parse_header_rejects_malformed_items(header: str) -> None:
    with pytest.raises(SignatureError, match="malformed"):
        parse_header(header)


@pytest.mark.parametrize("header", [f"v1={HEX_A}", f"v0={HEX_B},v1={HEX_A}"])
def test_parse_header_requires_a_timestamp(header: str) -> None:
    with pytest.raises(SignatureError, match="no timestamp"):
        parse_header(header)


@pytest.mark.parametrize("header", ["t=12", f"t=12,v0={HEX_B}", f"t=12,V1={HEX_A}"])
def test_parse_header_requires_a_v1_signature(header: str) -> None:
    with pytest.raises(SignatureError, match="no v1"):
        parse_header(header)


@pytest.mark.parametrize(
    "timestamp",
    ["", "abc", "12.5", "-12", "+12", " 12x", "1e9", "0x10", "\u00b2", "\u00b9\u00b2"],
    ids=[
        "empty",
        "letters",
        "decimal",
        "negative",
        "plus",
        "trailing-junk",
        "exponent",
        "hex",
        "superscript-two",
        "superscripts",
    ],
)
def test_parse_header_rejects_a_non_numeric_timestamp(timestamp: str) -> None:
    # "²" is a Latin-1 character (an HTTP header can carry it) for which str.isdigit() is
    # true but int() fails: it must still be a SignatureError, not a ValueError.
    with pytest.raises(SignatureError, match="bad timestamp"):
        parse_header(f"t={timestamp},v1={HEX_A}")


def test_parse_header_rejects_a_second_timestamp() -> None:
    with pytest.raises(SignatureError, match="bad timestamp"):
        parse_header(f"t=12,v1={HEX_A},t=13")


# --- sign ---------------------------------------------------------------------------------


def test_sign_is_hmac_sha256_hex_of_timestamp_dot_payload_keyed_with_the_whole_secret() -> None:
    expected = hmac.new(
        SECRET.encode("utf-8"), f"{NOW}.{PAYLOAD.decode()}".encode(), hashlib.sha256
    ).hexdigest()
    assert sign(PAYLOAD, SECRET, NOW) == expected
    # Not the part after "whsec_", and not something that ignores the timestamp.
    without_prefix = hmac.new(
        SECRET.removeprefix("whsec_").encode(), f"{NOW}.{PAYLOAD.decode()}".encode(), hashlib.sha256
    ).hexdigest()
    assert sign(PAYLOAD, SECRET, NOW) != without_prefix
    assert sign(PAYLOAD, SECRET, NOW + 1) != expected


# --- verify -------------------------------------------------------------------------------


def test_verify_accepts_a_valid_signature_and_returns_its_timestamp() -> None:
    assert verify(PAYLOAD, header_for(), [SECRET], tolerance=TOLERANCE, now=NOW) == NOW


@pytest.mark.parametrize("signed_with", [SECRET, OTHER_SECRET])
def test_verify_accepts_a_signature_from_any_active_secret(signed_with: str) -> None:
    header = header_for(secret=signed_with)
    assert verify(PAYLOAD, header, [OTHER_SECRET, SECRET], tolerance=TOLERANCE, now=NOW) == NOW


@pytest.mark.parametrize("valid_first", [True, False])
def test_verify_accepts_when_any_of_several_v1_matches(valid_first: bool) -> None:
    good = sign(PAYLOAD, SECRET, NOW)
    bad = sign(PAYLOAD, "whsec_someoneelse", NOW)
    first, second = (good, bad) if valid_first else (bad, good)
    header = f"t={NOW},v1={first},v1={second}"
    assert verify(PAYLOAD, header, [SECRET], tolerance=TOLERANCE, now=NOW) == NOW


def test_verify_rejects_a_tampered_payload() -> None:
    header = header_for()
    tampered = PAYLOAD.replace(b"evt_unit", b"evt_unix")
    with pytest.raises(SignatureError, match="No signature matches"):
        verify(tampered, header, [SECRET], tolerance=TOLERANCE, now=NOW)


def test_verify_rejects_a_signature_made_with_another_secret() -> None:
    header = header_for(secret="whsec_attacker")
    with pytest.raises(SignatureError, match="No signature matches"):
        verify(PAYLOAD, header, [SECRET, OTHER_SECRET], tolerance=TOLERANCE, now=NOW)


def test_verify_rejects_a_signature_moved_to_another_timestamp() -> None:
    signature = sign(PAYLOAD, SECRET, NOW - 1000)
    with pytest.raises(SignatureError, match="No signature matches"):
        verify(PAYLOAD, f"t={NOW},v1={signature}", [SECRET], tolerance=TOLERANCE, now=NOW)


def test_verify_rejects_when_no_secret_is_active() -> None:
    with pytest.raises(SignatureError, match="No signature matches"):
        verify(PAYLOAD, header_for(), [], tolerance=TOLERANCE, now=NOW)


@pytest.mark.parametrize("header", [None, ""])
def test_verify_rejects_a_missing_header(header: str | None) -> None:
    with pytest.raises(SignatureError, match="missing"):
        verify(PAYLOAD, header, [SECRET], tolerance=TOLERANCE, now=NOW)


@pytest.mark.parametrize(
    "offset", [-301, 301, -3600, 86_400], ids=["301s-old", "301s-ahead", "1h-old", "1d-ahead"]
)
def test_verify_rejects_a_timestamp_outside_the_tolerance_either_way(offset: int) -> None:
    at = NOW + offset
    with pytest.raises(SignatureError, match="tolerance"):
        verify(PAYLOAD, header_for(at=at), [SECRET], tolerance=TOLERANCE, now=NOW)


@pytest.mark.parametrize("offset", [-299, 299, 0], ids=["299s-old", "299s-ahead", "now"])
def test_verify_accepts_a_timestamp_within_the_tolerance_either_way(offset: int) -> None:
    at = NOW + offset
    assert verify(PAYLOAD, header_for(at=at), [SECRET], tolerance=TOLERANCE, now=NOW) == at


def test_verify_uses_the_tolerance_it_is_given() -> None:
    header = header_for(at=NOW - 301)
    assert verify(PAYLOAD, header, [SECRET], tolerance=600, now=NOW) == NOW - 301
    with pytest.raises(SignatureError, match="tolerance"):
        verify(PAYLOAD, header_for(at=NOW - 61), [SECRET], tolerance=60, now=NOW)


def test_verify_accepts_uppercase_hex() -> None:
    header = f"t={NOW},v1={sign(PAYLOAD, SECRET, NOW).upper()}"
    assert verify(PAYLOAD, header, [SECRET], tolerance=TOLERANCE, now=NOW) == NOW


@pytest.mark.parametrize(
    "junk",
    ["z" * 64, "not-hex", "", "a" * 63, "a" * 65],
    ids=["non-hex-64", "word", "empty", "short", "long"],
)
def test_verify_ignores_a_v1_that_is_not_64_hex_digits(junk: str) -> None:
    good = sign(PAYLOAD, SECRET, NOW)
    assert verify(PAYLOAD, f"t={NOW},v1={junk},v1={good}", [SECRET], tolerance=300, now=NOW) == NOW
    with pytest.raises(SignatureError, match="No signature matches"):
        verify(PAYLOAD, f"t={NOW},v1={junk}", [SECRET], tolerance=TOLERANCE, now=NOW)


def test_verify_does_not_accept_a_prefix_of_the_signature() -> None:
    good = sign(PAYLOAD, SECRET, NOW)
    with pytest.raises(SignatureError, match="No signature matches"):
        verify(PAYLOAD, f"t={NOW},v1={good[:32]}", [SECRET], tolerance=TOLERANCE, now=NOW)


def test_verify_checks_the_signature_before_the_timestamp() -> None:
    # A forged old delivery is reported as a bad signature, not as merely late.
    header = header_for(secret="whsec_attacker", at=NOW - 10_000)
    with pytest.raises(SignatureError, match="No signature matches"):
        verify(PAYLOAD, header, [SECRET], tolerance=TOLERANCE, now=NOW)
