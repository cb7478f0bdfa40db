"""Logging: JSON lines or a readable console format, the request id on every line a
request causes, secrets masked in everything written."""

from __future__ import annotations

from relink_api.logs.console import SafeFormatter, escape_controls
from relink_api.logs.json_lines import JsonLinesFormatter
from relink_api.logs.redaction import RedactSecrets, protect_third_party_loggers, redact
from relink_api.logs.request_id import RequestIdFilter, current_request_id, request_id_scope
from relink_api.logs.setup import LogFormat, chosen_format, configure_logging

__all__ = [
    "JsonLinesFormatter",
    "LogFormat",
    "RedactSecrets",
    "RequestIdFilter",
    "SafeFormatter",
    "chosen_format",
    "configure_logging",
    "current_request_id",
    "escape_controls",
    "protect_third_party_loggers",
    "redact",
    "request_id_scope",
]
