"""The sandbox's reading of Stripe's wire format: bracket params in, Stripe's error envelope
out (docs/stripe.md §1 and §7; docs/sandbox.md, "Stripe REST API")."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from relink_api.sandbox.wire import (
    StripeApiError,
    check_known,
    client_secret_for,
    decode_params,
    missing,
    new_id,
)


def decode(query: str) -> dict[str, object]:
    """As the sandbox reads a query string or a form body: blanks kept, %-escapes undone."""
    return decode_params(parse_qsl(query, keep_blank_values=True))


def test_nested_arrays_and_hashes() -> None:
    assert decode("a[b][0]=x&a[b][1]=y&a[c]=z") == {"a": {"b": ["x", "y"], "c": "z"}}


def test_indexed_array_as_the_sdk_sends_permissions() -> None:
    assert decode("permissions[0]=payment_method&permissions[1]=balances") == {
        "permissions": ["payment_method", "balances"]
    }


def test_indices_arriving_out_of_order_keep_their_positions() -> None:
    assert decode_params(
        [("permissions[1]", "balances"), ("permissions[0]", "payment_method")]
    ) == {"permissions": ["payment_method", "balances"]}


def test_empty_brackets_append() -> None:
    assert decode("a[]=x&a[]=y&a[]=z") == {"a": ["x", "y", "z"]}


def test_the_sdks_full_relink_body() -> None:
    # docs/stripe.md §1, the body as stripe-python sends it.
    body = (
        "account_holder[type]=customer&account_holder[customer]=cus_123"
        "&permissions[0]=payment_method&permissions[1]=balances"
        "&filters[account_subcategories][0]=checking"
        "&relink_options[authorization]=fcauth_1&relink_options[account]=fca_1"
        "&limits[accounts]=1"
    )
    assert decode(body) == {
        "account_holder": {"type": "customer", "customer": "cus_123"},
        "permissions": ["payment_method", "balances"],
        "filters": {"account_subcategories": ["checking"]},
        "relink_options": {"authorization": "fcauth_1", "account": "fca_1"},
        "limits": {"accounts": "1"},
    }


def test_percent_encoded_brackets_from_a_query_string() -> None:
    # requests-style clients escape the brackets; httpx sends them literally.
    assert decode("account_holder%5Bcustomer%5D=cus_1&limit=2") == {
        "account_holder": {"customer": "cus_1"},
        "limit": "2",
    }
    assert decode("account_holder%5Bcustomer%5D=cus_1") == decode("account_holder[customer]=cus_1")


def test_percent_encoded_values_are_decoded() -> None:
    assert decode("return_url=https%3A%2F%2Fapp.example.com%2Fback%3Fx%3D1") == {
        "return_url": "https://app.example.com/back?x=1"
    }


def test_empty_values_are_kept() -> None:
    # `limits[accounts]=` means "unlimited" (emptyable since 2026-06-24.preview).
    assert decode("limits[accounts]=") == {"limits": {"accounts": ""}}
    assert decode("description=&limit=3") == {"description": "", "limit": "3"}


@pytest.mark.parametrize(
    "key",
    ["a[b", "a]b", "[a]", "a[b]c", "", "a[[b]]", "a[b]]"],
)
def test_malformed_keys_are_refused_as_unknown_parameters(key: str) -> None:
    with pytest.raises(StripeApiError) as caught:
        decode_params([(key, "x")])
    assert caught.value.status == 400
    assert caught.value.type == "invalid_request_error"
    assert caught.value.code == "parameter_unknown"


def test_a_scalar_then_a_hash_under_one_name_is_refused() -> None:
    with pytest.raises(StripeApiError) as caught:
        decode_params([("relink_options", "x"), ("relink_options[account]", "fca_1")])
    assert caught.value.status == 400
    assert caught.value.param == "relink_options[account]"


def test_check_known_accepts_known_params() -> None:
    allowed = {"relink_options": {"authorization": True, "account": True}, "permissions": True}
    check_known(
        decode("relink_options[authorization]=fcauth_1&permissions[0]=payment_method"), allowed
    )


def test_check_known_names_an_unknown_top_level_param() -> None:
    with pytest.raises(StripeApiError) as caught:
        check_known(decode("permissions[0]=payment_method&bogus=1"), {"permissions": True})
    assert caught.value.status == 400
    assert caught.value.code == "parameter_unknown"
    assert caught.value.param == "bogus"
    assert caught.value.message == "Received unknown parameter: bogus"


def test_check_known_names_an_unknown_nested_param_with_its_full_bracket_name() -> None:
    allowed = {"relink_options": {"authorization": True, "account": True}}
    with pytest.raises(StripeApiError) as caught:
        check_known(
            decode("relink_options[authorization]=fcauth_1&relink_options[bogus]=1"), allowed
        )
    assert caught.value.code == "parameter_unknown"
    assert caught.value.param == "relink_options[bogus]"
    assert "relink_options[bogus]" in caught.value.message

    deep = {"payment_method_data": {"us_bank_account": {"financial_connections_account": True}}}
    with pytest.raises(StripeApiError) as caught:
        check_known(decode("payment_method_data[us_bank_account][routing]=1"), deep)
    assert caught.value.param == "payment_method_data[us_bank_account][routing]"


def test_error_body_has_stripes_envelope() -> None:
    error = StripeApiError(
        400, "Received unknown parameter: bogus", code="parameter_unknown", param="bogus"
    )
    body = error.body("req_abc123")
    assert set(body) == {"error"}
    assert body["error"] == {
        "type": "invalid_request_error",
        "code": "parameter_unknown",
        "param": "bogus",
        "message": "Received unknown parameter: bogus",
        "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
        "request_log_url": "https://dashboard.stripe.com/test/logs/req_abc123",
    }


def test_resource_missing_body() -> None:
    body = missing(
        "financial_connections.authorization", "fcauth_nope", param="relink_options[authorization]"
    ).body("req_1")["error"]
    assert body["type"] == "invalid_request_error"
    assert body["code"] == "resource_missing"
    assert body["param"] == "relink_options[authorization]"
    assert body["message"] == "No such financial_connections.authorization: 'fcauth_nope'"
    assert body["doc_url"] == "https://stripe.com/docs/error-codes/resource-missing"
    assert body["request_log_url"].endswith("/req_1")
    assert missing("x", "y").status == 404


def test_error_body_without_code_or_param_omits_them() -> None:
    body = StripeApiError(401, "Invalid API Key provided: sk_test_****abcd").body("req_2")
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"] == "Invalid API Key provided: sk_test_****abcd"
    assert "code" not in body["error"]
    assert "param" not in body["error"]
    assert "doc_url" not in body["error"]


def test_ids_and_client_secrets_have_stripes_shape() -> None:
    session_id = new_id("fcsess")
    assert session_id.startswith("fcsess_")
    assert session_id[len("fcsess_") :].isalnum()
    assert new_id("fcsess") != session_id
    secret = client_secret_for(session_id)
    prefix, _, tail = secret.partition("_secret_")
    assert prefix == session_id
    assert tail.isalnum()
    assert len(tail) >= 16
