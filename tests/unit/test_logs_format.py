"""The JSON lines and console formats: one valid line a record whatever it holds, the
request id of the request that logged it, every ``extra=`` field, and no secret."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from relink_api.logs import (
    JsonLinesFormatter,
    RequestIdFilter,
    SafeFormatter,
    chosen_format,
    configure_logging,
    request_id_scope,
)
from relink_api.logs.console import CONSOLE_FORMAT
from relink_api.settings import Settings

STRIPE_EXTRA = {
    "stripe_operation": "financial_connections.accounts.retrieve",
    "stripe_outcome": "ok",
    "stripe_request_id": "req_Stripe123",
    "duration_ms": 28.8,
}


def _record(
    message: str, *args: object, extra: dict[str, Any] | None = None, exc_info: Any = None
) -> logging.LogRecord:
    logger = logging.getLogger("relink_api.test_logs_format")
    record = logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, message, args, exc_info, extra=extra
    )
    RequestIdFilter().filter(record)
    return record


def _line(record: logging.LogRecord) -> dict[str, Any]:
    line = JsonLinesFormatter().format(record)
    # One line for every splitter: Python's splitlines also breaks at \x1c-\x1e, \x85,
    # U+2028 and U+2029.
    assert len(line.splitlines()) == 1, line
    assert re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029]", line) is None, line
    parsed: dict[str, Any] = json.loads(line)
    return parsed


@pytest.mark.parametrize(
    "hostile",
    [
        'line one\nline two\r\n{"level": "ERROR", "message": "forged"}',
        'quotes " and \\ backslashes \\" and \\u0041',
        "NUL \x00 ESC \x1b[2J DEL \x7f C1 \x85\x9b",
        "separators \u2028 and \u2029 and \x1c\x1d\x1e",
        "a lone surrogate \udcff from bytes decoded with surrogateescape",
    ],
)
def test_a_hostile_message_is_one_valid_json_line(hostile: str) -> None:
    fields = _line(_record("path %s", hostile))
    assert fields["message"] == f"path {hostile}"


def test_a_line_has_its_fields_and_every_extra() -> None:
    record = _record("stripe %s %s", "retrieve", "ok", extra=STRIPE_EXTRA)
    record.created = datetime(2026, 11, 30, 13, 26, 59, 793000, tzinfo=UTC).timestamp()
    record.msecs = 793.0

    fields = _line(record)

    assert fields == {
        "ts": "2026-11-30T13:26:59.793Z",
        "level": "INFO",
        "logger": "relink_api.test_logs_format",
        "message": "stripe retrieve ok",
        **STRIPE_EXTRA,
    }


def test_extras_json_cannot_hold_are_written_as_text_and_cannot_replace_a_field() -> None:
    fields = _line(
        _record(
            "x",
            extra={
                "level": "forged",
                "when": datetime(2026, 1, 2, tzinfo=UTC),
                "ratio": float("nan"),
                "big": 2**70,
                "nested": {"ids": ("a", "b"), 3: "fcsess_1_secret_abc"},
            },
        )
    )
    assert fields["level"] == "INFO"
    assert fields["extra_level"] == "forged"
    assert fields["when"] == "2026-01-02 00:00:00+00:00"
    assert fields["ratio"] == "nan"
    assert fields["big"] == str(2**70)
    assert fields["nested"] == {"ids": ["a", "b"], "3": "fcsess_1_secret_[redacted]"}


def test_a_request_id_is_written_only_during_a_request() -> None:
    assert "request_id" not in _line(_record("outside"))
    with request_id_scope("req_outer"):
        assert _line(_record("inside"))["request_id"] == "req_outer"
    assert "request_id" not in _line(_record("after"))


def _raise(message: str) -> None:
    raise RuntimeError(message)


def test_a_traceback_is_one_field_with_its_secrets_masked() -> None:
    try:
        _raise("Stripe refused sk_live_FAKE1 for fcsess_1Abc_secret_XyZ123\nERROR forged")
    except RuntimeError:
        record = _record("failed", exc_info=sys.exc_info())
    # Another handler may have rendered (and cached) the traceback first, in clear.
    logging.Formatter().format(record)
    assert record.exc_text is not None
    assert "FAKE1" in record.exc_text

    line = JsonLinesFormatter().format(record)
    fields = _line(record)

    assert "FAKE1" not in line
    assert "XyZ123" not in line
    assert fields["exc"].startswith("Traceback (most recent call last):\n")
    assert fields["exc"].endswith(
        "RuntimeError: Stripe refused sk_live_[redacted] for fcsess_1Abc_secret_[redacted]\n"
        "ERROR forged"
    )


# Each secret right after a character that JSON writes as an escape: in the encoded line
# the escape's last letter (\n, \u0000) joins the secret, so a pattern with a word boundary
# would no longer see it there. Masking happens before encoding.
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjdXNfMSJ9.mpcZZyT_BQcAFTh2eG4"
SPLIT_SECRETS = [
    ("key\nsk_live_FAKE1", "FAKE1"),
    ("key\x00rk_test_51Hq8", "51Hq8"),
    ("\tfcsess_1Abc_secret_XyZ123", "XyZ123"),
    ("\x1bwhsec_AbC123", "AbC123"),
    ("Authorization: Bearer\n\teyJabc.def", "eyJabc"),
    (f"#token=\u2028{JWT}", JWT.split(".")[2]),
    (f'"{JWT}"', JWT.split(".")[1]),
    ("X-Admin-Key: \nrk_admin_U-IlytYB-v1cXLpwwZir8VaD_yfCGlK3DDVrN8L", "IlytYB"),
]


@pytest.mark.parametrize(("text", "secret"), SPLIT_SECRETS)
def test_a_secret_next_to_an_escape_is_masked_in_every_field(text: str, secret: str) -> None:
    try:
        _raise(text)
    except RuntimeError:
        record = _record("said %s", text, extra={"detail": text}, exc_info=sys.exc_info())

    line = JsonLinesFormatter().format(record)
    fields = _line(record)

    assert secret not in line
    for name in ("message", "detail", "exc"):
        assert "[redacted]" in fields[name], fields[name]


def test_a_log_call_whose_arguments_do_not_fit_is_still_a_json_line() -> None:
    fields = _line(_record("%s and %s", "sk_test_FAKE1"))
    assert "FAKE1" not in json.dumps(fields)
    assert "not enough arguments" in fields["log_error"]


def test_the_console_format_adds_the_request_id_and_keeps_one_line() -> None:
    formatter = SafeFormatter(CONSOLE_FORMAT)
    with request_id_scope("req_console"):
        record = _record("GET %s 404", "/x\nINFO forged\x1b[2J")
    text = formatter.format(record)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO relink_api\.test_logs_format "
        r"\[req_console\]: GET /x\\nINFO forged\\x1b\[2J 404",
        text,
    ), text
    assert formatter.format(_record("no request")).endswith(
        " INFO relink_api.test_logs_format: no request"
    )


async def test_concurrent_requests_never_see_each_others_id() -> None:
    seen: list[tuple[str, str | None]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append((record.getMessage(), getattr(record, "request_id", None)))

    handler = Collect()
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("relink_api.test_logs_format.concurrent")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    started = asyncio.Event()

    async def background_loop() -> None:
        # Started before any request, as the lifespan starts the delivery loop.
        await started.wait()
        logger.info("loop")

    async def request(request_id: str, pause: float) -> None:
        with request_id_scope(request_id):
            logger.info("start %s", request_id)
            started.set()
            await asyncio.sleep(pause)
            # A task the request starts is part of the request.
            await asyncio.create_task(asyncio.to_thread(logger.info, "child %s", request_id))
            logger.info("end %s", request_id)

    try:
        loop_task = asyncio.create_task(background_loop())
        await asyncio.gather(request("req_a", 0.02), request("req_b", 0.0), loop_task)
        logger.info("after")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True

    by_message = dict(seen)
    assert len(by_message) == len(seen) == 8
    for request_id in ("req_a", "req_b"):
        for step in ("start", "child", "end"):
            assert by_message[f"{step} {request_id}"] == request_id
    assert by_message["loop"] is None
    assert by_message["after"] is None


@pytest.mark.usefixtures("_restore_logging")
def test_configure_logging_writes_json_lines_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    with request_id_scope("req_configured"):
        logging.getLogger("relink_api.stripe").info("stripe call", extra=STRIPE_EXTRA)

    (line,) = capsys.readouterr().err.splitlines()
    fields = json.loads(line)
    assert fields["request_id"] == "req_configured"
    assert fields["stripe_request_id"] == "req_Stripe123"


def test_the_format_is_json_unless_set_or_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    assert chosen_format(None, sandbox=False) == "json"
    assert chosen_format(None, sandbox=True) == "console"
    assert chosen_format("json", sandbox=True) == "json"
    assert chosen_format("console", sandbox=False) == "console"
    monkeypatch.setenv("RELINK_LOG_FORMAT", "console")
    assert Settings().log_format == "console"
