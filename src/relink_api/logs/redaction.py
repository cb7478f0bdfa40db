"""Secrets masked wherever they would be written: in a formatted line, in a record's
message, and in what the Stripe SDK logs."""

from __future__ import annotations

import logging
import re

# One pass over each line (every request writes one or two): client secrets of FC
# sessions, SetupIntents and PaymentIntents (fcsess_…_secret_…), API keys, the operator's
# admin keys, webhook signing secrets, bearer tokens, and JWTs without their scheme (a
# token in a URL or an exception's text). No alternative can match a quote or a
# backslash, and no replacement holds one: masking inside a JSON line keeps it JSON.
_SECRET = re.compile(
    r"\b(?P<owner>[a-z]+_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+"
    r"|\b(?P<key>(?:sk|rk)_(?:test|live))_[A-Za-z0-9]+"
    r"|\b(?P<admin>rk_admin)_[A-Za-z0-9_-]+"
    r"|\b(?P<whsec>whsec)_[A-Za-z0-9]+"
    r"|(?i:\bbearer)\s+[A-Za-z0-9._~+/=-]+"
    r"|\b(?P<jwt>eyJ)[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
)


def _mask(match: re.Match[str]) -> str:
    if match["owner"]:
        return match["owner"] + "_secret_[redacted]"
    if match["key"]:
        return match["key"] + "_[redacted]"
    if match["admin"]:
        return "rk_admin_[redacted]"
    if match["whsec"]:
        return "whsec_[redacted]"
    if match["jwt"]:
        return "eyJ[redacted]"
    return "Bearer [redacted]"


def redact(text: str) -> str:
    """``text`` with every secret it holds masked."""
    # Every match holds one of these, in some case: most lines hold none, and the pattern
    # costs microseconds even on a line it leaves alone.
    lowered = text.lower()
    if (
        "_secret_" in lowered
        or "sk_" in lowered
        or "rk_" in lowered
        or "whsec_" in lowered
        or "bearer" in lowered
        or "eyj" in lowered
    ):
        return _SECRET.sub(_mask, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record's message with secrets masked; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


_FILTER = RedactSecrets()


def protect_third_party_loggers() -> None:
    """The Stripe SDK logs whole response bodies (client secrets included) at DEBUG, and
    two lines a call at INFO that say less than the one ``relink_api.stripe`` writes (which
    has Stripe's request id, the outcome and the time): cap it at WARNING, and mask anything
    that slips through. Idempotent."""
    stripe_logger = logging.getLogger("stripe")
    if stripe_logger.level == logging.NOTSET or stripe_logger.level < logging.WARNING:
        stripe_logger.setLevel(logging.WARNING)
    if _FILTER not in stripe_logger.filters:
        stripe_logger.addFilter(_FILTER)
