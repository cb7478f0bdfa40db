"""Logging set-up: one line a record, secrets masked, control characters escaped."""

from __future__ import annotations

import logging
import re
import sys

# One pass over each line (every request writes one or two): client secrets of FC
# sessions, SetupIntents and PaymentIntents (fcsess_…_secret_…), API keys, webhook signing
# secrets, bearer tokens.
_SECRET = re.compile(
    r"\b(?P<owner>[a-z]+_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+"
    r"|\b(?P<key>(?:sk|rk)_(?:test|live))_[A-Za-z0-9]+"
    r"|\b(?P<whsec>whsec)_[A-Za-z0-9]+"
    r"|(?i:\bbearer)\s+[A-Za-z0-9._~+/=-]+"
)


def _mask(match: re.Match[str]) -> str:
    if match["owner"]:
        return match["owner"] + "_secret_[redacted]"
    if match["key"]:
        return match["key"] + "_[redacted]"
    if match["whsec"]:
        return "whsec_[redacted]"
    return "Bearer [redacted]"


def redact(text: str) -> str:
    """``text`` with every secret it holds masked."""
    return _SECRET.sub(_mask, text)


# C0 (newlines and ESC among them), DEL, C1, and Unicode's line and paragraph separators:
# from a request path or header, any of these could forge a log line or drive a terminal.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    if character in _ESCAPES:
        return _ESCAPES[character]
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` on one line: every control character written as its escape (``\\n``,
    ``\\x1b``)."""
    return _CONTROL.sub(_escape, text)


class SafeFormatter(logging.Formatter):
    """Each record's message on one line, with control characters escaped, and secrets
    masked in everything written, the traceback included.

    A traceback keeps its line breaks but each of its lines is indented, so that nothing
    in an exception's text can pass for a record of its own.
    """

    def format(self, record: logging.LogRecord) -> str:
        # Masked before escaping too: a token after a tab or newline is still a token.
        record.message = escape_controls(redact(record.getMessage()))
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        # Never the cached exc_text: another handler's formatter may have written it.
        blocks: list[str] = []
        if record.exc_info:
            blocks.append(self.formatException(record.exc_info))
        elif record.exc_text:
            blocks.append(record.exc_text)
        if record.stack_info:
            blocks.append(self.formatStack(record.stack_info))
        for block in blocks:
            lines = _CONTROL_BUT_NEWLINE.sub(_escape, block).split("\n")
            text += "".join("\n  " + line for line in lines)
        return redact(text)


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
    # SafeFormatter masks the whole formatted record, so the handler needs no filter.
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # On the handler too: a logger with a level of its own (``stripe`` at INFO, above)
    # outranks the root's, and would print under RELINK_LOG_LEVEL.
    handler.setLevel(level)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pgserver narrates every initdb/pg_ctl call at INFO; its warnings are what matter.
    logging.getLogger("pgserver").setLevel(max(logging.WARNING, root.level))
    # httpx logs one line per request at INFO; the access log already says what matters.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    protect_third_party_loggers()
