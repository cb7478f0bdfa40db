"""A Stripe status newer than this code reads as `unknown`, through the enum itself, so
the API's models accept it without a validator of their own on every row."""

from __future__ import annotations

from relink_api.accounts.schemas import AccountStatus, AuthorizationRead


def test_an_unknown_status_is_unknown_and_known_ones_are_themselves() -> None:
    assert AccountStatus("suspended") is AccountStatus.unknown
    assert [AccountStatus(value) for value in ("active", "inactive", "disconnected")] == [
        AccountStatus.active,
        AccountStatus.inactive,
        AccountStatus.disconnected,
    ]


def test_models_read_an_unknown_status_as_unknown() -> None:
    read = AuthorizationRead.model_validate(
        {
            "id": "fcauth_1",
            "institution_id": None,
            "institution_name": None,
            "status": "suspended",
            "action": None,
            "expected_deactivation_at": None,
            "account_ids": [],
        }
    )
    assert read.status is AccountStatus.unknown
