"""What the webhook event log keeps of a payload: no client secret, no state token."""

from __future__ import annotations

from relink_api.webhooks.service import without_secrets

RETURN = "https://relink.example.com/relink/return?session=rls_1&state=tok3n-0123456789abcdef"


def test_the_state_token_is_dropped_from_every_url_and_the_rest_kept() -> None:
    session = {
        "id": "fcsess_1",
        "client_secret": "fcsess_1_secret_abc",
        "return_url": RETURN,
        "hosted": {"return_url": RETURN, "delivery_method": "email"},
        "notes": [{"url": "exampleapp://done?state=other-token&tab=1"}],
    }

    kept = without_secrets(session)

    assert kept == {
        "id": "fcsess_1",
        "return_url": "https://relink.example.com/relink/return?session=rls_1",
        "hosted": {
            "return_url": "https://relink.example.com/relink/return?session=rls_1",
            "delivery_method": "email",
        },
        "notes": [{"url": "exampleapp://done?tab=1"}],
    }


def test_text_that_is_not_a_url_with_a_state_is_left_alone() -> None:
    values = [
        "Everyday Checking",
        "state=ok but no url",
        "https://app.example.com/done?statement=1",
        "https://app.example.com/done?from=bank",
    ]

    assert without_secrets(values) == values
