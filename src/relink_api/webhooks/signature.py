"""Stripe's ``Stripe-Signature`` scheme, checked strictly.

Written here rather than taken from ``stripe.WebhookSignature`` because the SDK accepts
timestamps from the future and a single secret; we need a symmetric tolerance and several
active secrets while one is being rolled.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

_HEX_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")


class SignatureError(Exception):
    """Why a delivery was not accepted; safe to show the sender."""


def parse_header(header: str) -> tuple[int, list[str]]:
    """``t=<unix>,v1=<hex>[,v1=<hex>…]`` → (timestamp, v1 signatures); other schemes ignored."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError("The Stripe-Signature header is malformed.")
        if key == "t":
            # isdigit() alone admits "²" and other Latin-1 digits that int() refuses.
            if timestamp is not None or not (value.isascii() and value.isdigit()):
                raise SignatureError("The Stripe-Signature header has a bad timestamp.")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value.lower())
    if timestamp is None:
        raise SignatureError("The Stripe-Signature header has no timestamp.")
    if not signatures:
        raise SignatureError("The Stripe-Signature header has no v1 signature.")
    return timestamp, signatures


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex v1 signature of ``payload`` at ``timestamp`` (used by tests and the sandbox)."""
    message = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    payload: bytes, header: str | None, secrets: Sequence[str], *, tolerance: int, now: float
) -> int:
    """Check ``payload`` against the header; return its timestamp or raise ``SignatureError``.

    Any ``v1`` matching any active secret passes. The timestamp must lie within
    ``tolerance`` seconds of ``now`` on either side: a far-future one is a replay
    waiting to happen.
    """
    if not header:
        raise SignatureError("The Stripe-Signature header is missing.")
    timestamp, signatures = parse_header(header)
    expected = [sign(payload, secret, timestamp) for secret in secrets]
    matched = False
    for candidate in signatures:
        if not _HEX_SIGNATURE.match(candidate):
            continue
        for signature in expected:
            # Compare every pair: constant time, and no early exit that leaks which matched.
            matched |= hmac.compare_digest(candidate, signature)
    if not matched:
        raise SignatureError("No signature matches this payload.")
    if abs(now - timestamp) > tolerance:
        raise SignatureError("The signature's timestamp is outside the tolerance.")
    return timestamp
