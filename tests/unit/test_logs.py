"""The redaction filter masks every secret shape relink-api handles."""

from __future__ import annotations

import logging

import pytest

from relink_api.logs import RedactSecrets, protect_third_party_loggers, redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("body={'client_secret': 'fcsess_1Abc_secret_XyZ123'}", "XyZ123"),
        ("seti_1Abc_secret_Q9w8", "Q9w8"),
        ("key sk_test_51Hq8s0m3", "51Hq8s0m3"),
        ("key rk_live_51Hq8", "51Hq8"),
        ("whsec_AbC123", "AbC123"),
        ("Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig-_", "eyJhbGciOi"),
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


def test_stripe_logger_is_capped_at_info_and_filtered() -> None:
    protect_third_party_loggers()
    stripe_logger = logging.getLogger("stripe")
    assert stripe_logger.level == logging.INFO
    assert any(isinstance(f, RedactSecrets) for f in stripe_logger.filters)
