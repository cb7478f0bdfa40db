"""The readable format, for a developer's terminal: one line a record, the request id
beside the logger's name, control characters escaped, secrets masked."""

from __future__ import annotations

import logging
import re

from relink_api.logs.redaction import redact

CONSOLE_FORMAT = "%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s"

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
    masked in everything written, the traceback included. ``%(request_tag)s`` is
    `` [<request id>]`` during a request, empty outside one.

    A traceback keeps its line breaks but each of its lines is indented, so that nothing
    in an exception's text can pass for a record of its own.
    """

    def format(self, record: logging.LogRecord) -> str:
        # Masked before escaping too: a token after a tab or newline is still a token.
        record.message = escape_controls(redact(record.getMessage()))
        request_id = getattr(record, "request_id", None)
        record.request_tag = f" [{escape_controls(str(request_id))}]" if request_id else ""
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
