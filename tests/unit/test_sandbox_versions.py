"""The sandbox's list of Stripe API versions comes from the SDK, and its rendering keeps the
preview fields to the previews that have them (docs/stripe.md §8)."""

from __future__ import annotations

from stripe._api_version import _ApiVersion

from relink_api.sandbox import versions
from relink_api.settings import DEFAULT_STRIPE_API_VERSION


def test_the_known_versions_hold_the_products_pin_and_the_sdks_releases() -> None:
    assert DEFAULT_STRIPE_API_VERSION in versions.KNOWN
    assert _ApiVersion.CURRENT in versions.KNOWN
    assert {"2011-01-01", "2024-06-20", "2025-03-31.basil"} <= versions.RELEASES
    # The account's default is the newest release, never a preview.
    assert versions.ACCOUNT_DEFAULT == max(versions.RELEASES)
    assert not versions.is_preview(versions.ACCOUNT_DEFAULT)
    assert "2026-03-04.preview" not in versions.KNOWN


def test_answered_at_falls_back_to_the_accounts_default() -> None:
    assert versions.answered_at(None) == versions.ACCOUNT_DEFAULT
    assert versions.answered_at("2026-06-24.preview") == "2026-06-24.preview"


def test_a_session_in_a_list_loses_its_preview_fields_at_a_release() -> None:
    session = {
        "object": "financial_connections.session",
        "id": "fcsess_1",
        "relink_result": None,
        "ui_mode": "hosted",
        "_internal": 1,
        "accounts": {
            "object": "list",
            "data": [
                {
                    "object": "financial_connections.account",
                    "id": "fca_1",
                    "authorization": "fcauth_1",
                    "account_numbers": [],
                }
            ],
        },
    }
    at_release = versions.render(session, "2025-12-15.clover")
    assert at_release == {
        "object": "financial_connections.session",
        "id": "fcsess_1",
        "accounts": {
            "object": "list",
            "data": [
                {"object": "financial_connections.account", "id": "fca_1", "account_numbers": []}
            ],
        },
    }
    # Hosted sessions arrived with 2026-03-25.preview, relink with 2026-01-28.preview.
    assert "ui_mode" not in versions.render(session, "2026-02-25.preview")
    assert "relink_result" in versions.render(session, "2026-02-25.preview")
    assert versions.render(session, "2026-03-25.preview")["ui_mode"] == "hosted"
    # Tokenized account numbers are released since 2025-11-17.
    older = versions.render(session, "2025-10-29.clover")
    assert "account_numbers" not in older["accounts"]["data"][0]
