"""Logging set-up, and the filter that keeps secrets out of every log line."""

from __future__ import annotations

import logging
import re
import sys

_SECRETS = [
    # client secrets of FC sessions, SetupIntents, PaymentIntents: fcsess_…_secret_…
    (re.compile(r"\b([a-z]+_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+"), r"\1_secret_[redacted]"),
    (re.compile(r"\b(sk|rk)_(test|live)_[A-Za-z0-9]+"), r"\1_\2_[redacted]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9]+"), "whsec_[redacted]"),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
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
    """The Stripe SDK logs whole response bodies (client secrets included) at DEBUG:
    cap it at INFO, and mask anything that slips through. Idempotent."""
    stripe_logger = logging.getLogger("stripe")
    if stripe_logger.level == logging.NOTSET or stripe_logger.level < logging.INFO:
        stripe_logger.setLevel(logging.INFO)
    if _FILTER not in stripe_logger.filters:
        stripe_logger.addFilter(_FILTER)


def configure_logging(level: str) -> None:
    """Process-wide logging for ``relink-api`` commands: one line a record, to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_FILTER)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pgserver narrates every initdb/pg_ctl call at INFO; its warnings are what matter.
    logging.getLogger("pgserver").setLevel(max(logging.WARNING, root.level))
    # httpx logs one line per request at INFO; the access log already says what matters.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    protect_third_party_loggers()
