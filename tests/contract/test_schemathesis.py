"""schemathesis against a running sandbox-mode relink-api: every operation of the committed
OpenAPI document, every check, positive and negative data, and the stateful links."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation

from tests.contract.conftest import ContractServer

DOCUMENT = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
MAX_EXAMPLES = 30
STATEFUL_MAX_STEPS = 10
STATEFUL_EXAMPLES = 40
WEBHOOK = "receiveStripeWebhook"
# Every operation that takes a cursor, read from the document so a new list is covered.
PAGED = sorted(
    operation["operationId"]
    for path_item in json.loads(DOCUMENT.read_text())["paths"].values()
    for operation in path_item.values()
    if any(parameter["name"] == "cursor" for parameter in operation.get("parameters", []))
)
# On the contract server's RELINK_RETURN_URL_ALLOWLIST (tests.conftest.make_settings).
ALLOWED_RETURN_URL = "https://app.example.com/relink-done"
ENDPOINT_URL = "https://app.example.com/webhooks/relink"

CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            # Credentials are ours (auth_headers), never generated: the ignored_auth check
            # probes every secured operation without them and with wrong ones instead.
            "with-security-parameters": False,
        },
        # Every check schemathesis has, positive and negative data alike.
        "checks": {"enabled": True},
        "phases": {"stateful": {"max-steps": STATEFUL_MAX_STEPS}},
        "operations": [
            {
                # Stripe signs the raw body with a secret only Stripe (here: the sandbox)
                # holds, so generated events cannot carry a valid signature: positive data
                # (the documented example included) would be refused with 400 by design.
                # Negative data (and the missing signature) must still be a documented 400.
                "include-operation-id": WEBHOOK,
                "generation": {"mode": "negative"},
                "phases": {"examples": {"enabled": False}},
            },
            {
                # A cursor is opaque: only a `next_cursor` the server issued is valid, which
                # no schema can express, so a schema-valid string it did not issue is a
                # documented 400 `invalid-cursor`. Nothing else in these operations can
                # answer 400.
                "include-operation-id": PAGED,
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "5xx"]
                    }
                },
            },
        ],
    }
)

schema = schemathesis.openapi.from_path(DOCUMENT, config=CONFIG)


class _Credentials:
    """What the running server issued; filled in by ``_use_contract_server``."""

    base_url = ""
    token = ""
    admin_key = ""


def auth_headers(case: schemathesis.Case[Any]) -> dict[str, str]:
    """The credentials the operation's documented security requirement names. Passed as
    explicit headers, so that the ignored_auth check knows them for real credentials and
    probes the operation without them (and with wrong ones)."""
    security = case.operation.definition.raw.get("security") or []
    schemes = {name for requirement in security for name in requirement}
    if "AdminApiKey" in schemes:
        return {"X-Admin-Key": _Credentials.admin_key}
    if "BearerAuth" in schemes:
        return {"Authorization": f"Bearer {_Credentials.token}"}
    return {}


@pytest.fixture(scope="module", autouse=True)
def _use_contract_server(contract_server: ContractServer) -> None:
    _Credentials.base_url = contract_server.base_url
    _Credentials.token = contract_server.token
    _Credentials.admin_key = contract_server.admin_key


_request_numbers = itertools.count()


def prepare(case: schemathesis.Case[Any]) -> None:
    """Three adjustments to positive data, for rules that live outside the schema."""
    meta = case.meta
    key = case.headers.get("Idempotency-Key") if case.headers is not None else None
    if (
        isinstance(key, str)
        and meta is not None
        and not meta.is_negative_at(ParameterLocation.HEADER)
    ):
        # Keys are scoped to the caller and kept 24 h: the same key with another body is a
        # 422 by design. Make every generated key unique (keeping its characters), so that
        # a repeated example key does not turn valid requests into deliberate reuse.
        case.headers["Idempotency-Key"] = f"{key[:240]}.{next(_request_numbers)}"
    body = case.body
    if (
        case.operation.definition.raw.get("operationId") == "createRelinkSession"
        and isinstance(body, dict)
        and isinstance(body.get("return_url"), str)
        and meta is not None
        and not meta.is_negative_at(ParameterLocation.BODY)
    ):
        # return_url must be on the server's allowlist, which is deployment configuration
        # the schema cannot state; any other return_url is a documented 422.
        case.body = {**body, "return_url": ALLOWED_RETURN_URL}
    if (
        case.operation.definition.raw.get("operationId") == "adminCreateWebhookEndpoint"
        and isinstance(body, dict)
        and isinstance(body.get("url"), str)
        and meta is not None
        and not meta.is_negative_at(ParameterLocation.BODY)
    ):
        # Which endpoint URLs are allowed depends on where the server runs (https, and
        # private addresses only where a setting allows): a documented 422 otherwise.
        case.body = {**body, "url": ENDPOINT_URL}


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_meets_the_contract(case: schemathesis.Case[Any]) -> None:
    prepare(case)
    case.call_and_validate(base_url=_Credentials.base_url, headers=auth_headers(case))


class ContractWorkflow(schema.as_state_machine()):  # type: ignore[misc]
    """Follows the document's links: list accounts, get one, refresh it, read its
    authorization, start a relink for it (customer and operator), then get and complete the
    session. The payment-method links are followed only after a `new_account` outcome,
    which needs the bank's part played in the sandbox: the per-operation test covers those
    routes instead."""

    def before_call(self, case: schemathesis.Case[Any]) -> None:
        prepare(case)

    def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
        return {"base_url": _Credentials.base_url, "headers": auth_headers(case)}

    def validate_response(
        self,
        response: Any,
        case: schemathesis.Case[Any],
        additional_checks: list[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # As call_and_validate does: the checks must know which headers were credentials.
        case.validate_response(
            response,
            additional_checks=additional_checks,
            headers=kwargs.get("headers"),
            transport_kwargs=kwargs,
        )


def test_linked_operations_meet_the_contract() -> None:
    ContractWorkflow.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=STATEFUL_MAX_STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )


def test_an_unsigned_webhook_is_a_documented_400(contract_server: ContractServer) -> None:
    # What schemathesis cannot generate for the webhook (a valid signature), its refusal
    # can be checked by hand: unsigned and wrongly signed events are the documented 400.
    document = json.loads(DOCUMENT.read_text())
    documented = document["paths"]["/v1/webhooks/stripe"]["post"]["responses"]
    event = {"id": "evt_contract", "object": "event", "type": "ping", "created": 1, "data": {}}
    with httpx.Client(base_url=contract_server.base_url) as client:
        unsigned = client.post("/v1/webhooks/stripe", json=event)
        forged = client.post(
            "/v1/webhooks/stripe",
            json=event,
            headers={"Stripe-Signature": f"t={int(time.time())},v1={'0' * 64}"},
        )
    for response in (unsigned, forged):
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "/problems/webhook-signature-invalid"
    assert "400" in documented
