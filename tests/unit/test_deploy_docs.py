"""docs/deploy.md stays true to the code: its settings reference is what the settings model
gives (``scripts/settings-reference`` rewrites it), every setting is described, and the
webhook events it asks operators to subscribe to are exactly the ones relink-api handles,
at the API version the server calls Stripe with."""

from __future__ import annotations

import re

from relink_api.settings import DEFAULT_STRIPE_API_VERSION, Settings
from relink_api.webhooks.handlers import HANDLERS
from tests import settings_reference
from tests.settings_reference import DOCUMENT, UNDESCRIBED, committed_table, description

REWRITE = "run scripts/settings-reference and commit docs/deploy.md"


def test_the_settings_reference_is_what_the_model_gives() -> None:
    committed = committed_table(DOCUMENT.read_text())
    assert committed is not None, "docs/deploy.md lacks the settings-reference markers"
    assert committed == settings_reference.table(), REWRITE


def test_every_setting_has_a_description() -> None:
    undescribed = [
        name for name, field in Settings.model_fields.items() if not description(name, field)
    ]
    assert undescribed == [], (
        "give these settings a description= in the model (or, where the model has no room, "
        "an entry in tests/settings_reference.py's UNDESCRIBED)"
    )


def test_no_fallback_description_outlives_its_need() -> None:
    fields = Settings.model_fields
    unknown = sorted(set(UNDESCRIBED) - set(fields))
    described = sorted(name for name in UNDESCRIBED if name in fields and fields[name].description)
    assert (unknown, described) == ([], []), (
        "remove these from UNDESCRIBED: the setting is gone, or the model describes it now"
    )


def test_the_events_to_subscribe_to_are_those_handled() -> None:
    text = DOCUMENT.read_text()
    block = re.search(r"<!-- webhook-events:begin -->(.*?)<!-- webhook-events:end -->", text, re.S)
    assert block is not None, "docs/deploy.md lacks the webhook-events markers"
    listed = re.findall(r"^- `([a-z_.]+)`$", block.group(1), re.MULTILINE)
    assert sorted(listed) == sorted(HANDLERS)
    assert len(listed) == len(set(listed))


def test_the_endpoint_is_created_at_the_version_the_server_calls_with() -> None:
    text = DOCUMENT.read_text()
    assert f"-d api_version={DEFAULT_STRIPE_API_VERSION}" in text
    assert f"default `{DEFAULT_STRIPE_API_VERSION}`" in text
