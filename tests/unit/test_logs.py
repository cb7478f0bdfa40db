"""The redaction filter masks every secret shape relink-api handles."""

from __future__ import annotations

import logging
import sys

import pytest
import respx
from pydantic import SecretStr

from relink_api.gateway.client import StripeGateway
from relink_api.logs import (
    RedactSecrets,
    SafeFormatter,
    configure_logging,
    protect_third_party_loggers,
    redact,
)
from relink_api.settings import Settings
from tests.factories import API, fc_account


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("body={'client_secret': 'fcsess_1Abc_secret_XyZ123'}", "XyZ123"),
        ("seti_1Abc_secret_Q9w8", "Q9w8"),
        ("key sk_test_51Hq8s0m3", "51Hq8s0m3"),
        ("key rk_live_51Hq8", "51Hq8"),
        ("whsec_AbC123", "AbC123"),
        ("Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig-_", "eyJhbGciOi"),
        # A JWT without its scheme (a page URL's #token=, an exception's text).
        ("open /#token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjdXNfMSJ9.mpcZZyT_BQ", "mpcZZyT_BQ"),
        ("X-Admin-Key: rk_admin_U-IlytYB-v1cXLpwwZir8VaD_yfCGlK3DDVrN8L-80M", "IlytYB"),
    ],
)
def test_redact_masks_secrets(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert "[redacted]" in cleaned


def test_redact_keeps_ids_that_are_not_secrets() -> None:
    text = "session fcsess_1Abc for account fca_2Def on fcauth_3Ghi"
    assert redact(text) == text


def test_filter_rewrites_formatted_messages() -> None:
    record = logging.LogRecord(
        "stripe", logging.DEBUG, __file__, 1, "body=%s", ("fcsess_1_secret_abc",), None
    )
    assert RedactSecrets().filter(record)
    assert record.getMessage() == "body=fcsess_1_secret_[redacted]"


def test_stripe_logger_is_capped_at_warning_and_filtered() -> None:
    # Its INFO lines repeat, with less, what relink_api.stripe logs once per call.
    protect_third_party_loggers()
    stripe_logger = logging.getLogger("stripe")
    assert stripe_logger.level == logging.WARNING
    assert any(isinstance(f, RedactSecrets) for f in stripe_logger.filters)


# --- Log lines from requests and exceptions (issue 11: forging, tracebacks, levels) -------


def _format(record: logging.LogRecord) -> str:
    return SafeFormatter("%(levelname)s %(name)s: %(message)s").format(record)


def test_control_characters_in_a_message_are_escaped_onto_one_line() -> None:
    path = "/x\n2026-11-30 WARNING forged\r\x1b[31m\x7f\x85\u2028"
    record = logging.LogRecord(
        "relink_api.access", logging.INFO, __file__, 1, "%s %s %s", ("GET", path, 404), None
    )

    line = _format(record)

    assert line == (
        "INFO relink_api.access: GET /x\\n2026-11-30 WARNING forged\\r\\x1b[31m\\x7f\\x85"
        "\\u2028 404"
    )


def _raise(message: str) -> None:
    raise RuntimeError(message)


def test_a_traceback_is_redacted_and_cannot_forge_lines() -> None:
    logger = logging.getLogger("relink_api.test_logs")
    try:
        _raise("Stripe said no to sk_test_51Hq8s0m3 for fcsess_1Abc_secret_XyZ123\nERROR forged")
    except RuntimeError:
        record = logger.makeRecord(
            logger.name, logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    # Another handler may have rendered (and cached) the traceback first, in clear.
    logging.Formatter().format(record)
    assert record.exc_text is not None
    assert "sk_test_51Hq8s0m3" in record.exc_text

    text = _format(record)

    assert "51Hq8s0m3" not in text
    assert "XyZ123" not in text
    assert "sk_test_[redacted]" in text
    assert "fcsess_1Abc_secret_[redacted]" in text
    first, *rest = text.split("\n")
    assert first == "ERROR relink_api.test_logs: failed"
    assert rest
    assert all(line.startswith("  ") for line in rest)
    assert "  Traceback (most recent call last):" in rest


@pytest.mark.usefixtures("_restore_logging")
async def test_at_warning_a_stripe_call_logs_no_info_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("WARNING")
    settings = Settings(
        stripe_secret_key=SecretStr("sk_test_relink123"),
        stripe_max_network_retries=0,
        stripe_api_base=API,
    )
    gateway = StripeGateway(settings, api_key="sk_test_relink123")
    try:
        with respx.mock(base_url=API, assert_all_mocked=True) as stripe_mock:
            stripe_mock.get("/v1/financial_connections/accounts/fca_1").respond(
                json=fc_account("fca_1")
            )
            await gateway.retrieve_account("fca_1")
    finally:
        await gateway.aclose()

    logged = capsys.readouterr().err
    assert "INFO" not in logged, logged


def test_a_token_after_a_control_character_is_masked_before_it_is_escaped() -> None:
    formatter = SafeFormatter("%(message)s")
    record = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "auth %s", ("Bearer\teyJabc.def",), None
    )
    text = formatter.format(record)
    assert "eyJabc" not in text
    assert text == "auth Bearer [redacted]"
