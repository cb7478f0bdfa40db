"""The sandbox's PaymentMethods and SetupIntents: how they look and what a confirmation does.

Shared by the REST API (``stripe_api``) and the bank the Stripe.js stand-in calls (``bank``),
so both confirm, fail and render a SetupIntent the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relink_api.db import Connection
from relink_api.sandbox import account_numbers, store, world
from relink_api.sandbox.wire import StripeApiError, client_secret_for, invalid, missing, new_id

SETUP_FAILURE_MESSAGES = {
    "bank_account_unusable": (
        "The bank account provided cannot be used. Please try a different bank account."
    ),
    "bank_account_declined": "The bank account provided was declined by the bank.",
    "bank_account_restricted": "The bank account provided is restricted and cannot be used.",
}


# More payment methods than one customer has in the sandbox.
_ALL = 10_000


class SetupFailed(StripeApiError):
    """The bank refused a SetupIntent's confirmation: Stripe answers with an error, yet the
    SetupIntent's new state (``requires_payment_method``) stands, so the caller commits it."""


# --- PaymentMethods --------------------------------------------------------------------------


def make_payment_method(
    account: dict[str, Any],
    *,
    customer_id: str | None,
    name: str | None,
    holder_type: str = "individual",
) -> dict[str, Any]:
    """A us_bank_account PaymentMethod made from an FC account."""
    return {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {"address": None, "email": None, "name": name, "phone": None},
        "created": world.now(),
        "customer": customer_id,
        "livemode": False,
        "metadata": {},
        "type": "us_bank_account",
        "us_bank_account": {
            "account_holder_type": holder_type,
            "account_type": "savings" if account["subcategory"] == "savings" else "checking",
            "bank_name": account["institution_name"],
            "financial_connections_account": account["id"],
            "fingerprint": None,
            "last4": account["last4"],
            "networks": {"preferred": "ach", "supported": ["ach"]},
            "routing_number": "110000000",
            "status_details": {},
        },
    }


async def save_payment_method(conn: Connection, payment_method: dict[str, Any]) -> None:
    # Listed by customer, so the customer is the lookup key once it is attached.
    await store.put(conn, payment_method, type="payment_method", lookup=payment_method["customer"])


async def payment_method_view(conn: Connection, payment_method: dict[str, Any]) -> dict[str, Any]:
    """A PaymentMethod as Stripe shows it now: blocked only while the FC account behind it
    has a deactivated tokenized account number. A broken or disconnected link alone leaves
    it usable (docs/stripe.md §6)."""
    bank = payment_method.get("us_bank_account")
    if not isinstance(bank, dict):
        return dict(payment_method)
    account_id = bank.get("financial_connections_account")
    account = await store.get(conn, account_id, type="account") if account_id else None
    status_details = (
        {"blocked": {"network_code": None, "reason": "tokenized_account_number_deactivated"}}
        if account is not None and account_numbers.deactivated(account.get("account_numbers"))
        else {}
    )
    return {**payment_method, "us_bank_account": {**bank, "status_details": status_details}}


async def made_from(conn: Connection, account: dict[str, Any]) -> list[dict[str, Any]]:
    """The payment methods made from an FC account and attached to its holder."""
    customer = (account.get("account_holder") or {}).get("customer")
    if not customer:
        return []
    attached, _ = await store.list_by_lookup(
        conn, type="payment_method", lookup=customer, limit=_ALL
    )
    return [
        payment_method
        for payment_method in attached
        if (payment_method.get("us_bank_account") or {}).get("financial_connections_account")
        == account["id"]
    ]


# --- SetupIntents ----------------------------------------------------------------------------


def make_setup_intent(
    *,
    customer_id: str | None,
    payment_method_id: str,
    description: str | None,
    metadata: dict[str, str],
    usage: str,
) -> dict[str, Any]:
    """A new us_bank_account SetupIntent, waiting for its confirmation."""
    setup_id = new_id("seti")
    return {
        "id": setup_id,
        "object": "setup_intent",
        "client_secret": client_secret_for(setup_id),
        "created": world.now(),
        "customer": customer_id,
        "description": description,
        "last_setup_error": None,
        "livemode": False,
        "mandate": None,
        "cancellation_reason": None,
        "metadata": metadata,
        "payment_method": payment_method_id,
        "payment_method_types": ["us_bank_account"],
        "status": "requires_confirmation",
        "usage": usage,
    }


async def save_setup_intent(conn: Connection, setup_intent: dict[str, Any]) -> None:
    # Found by its client secret too: that is all the Stripe.js stand-in sends.
    await store.put(conn, setup_intent, type="setup_intent", lookup=setup_intent["client_secret"])


async def render_setup_intent(
    conn: Connection, setup_intent: dict[str, Any], expand: Sequence[str] = ()
) -> dict[str, Any]:
    """A SetupIntent as the API returns it: ``payment_method`` an id unless expanded, and the
    payment method of ``last_setup_error`` always whole and current."""
    view = world.api_view(setup_intent)
    error = view.get("last_setup_error")
    if isinstance(error, dict) and isinstance(error.get("payment_method"), dict):
        current = await store.get(conn, error["payment_method"]["id"], type="payment_method")
        if current is not None:
            view["last_setup_error"] = {
                **error,
                "payment_method": await payment_method_view(conn, current),
            }
    if "payment_method" in expand and isinstance(view.get("payment_method"), str):
        payment_method = await store.get(conn, view["payment_method"], type="payment_method")
        if payment_method is not None:
            view["payment_method"] = await payment_method_view(conn, payment_method)
    return view


async def confirmation_answer(
    conn: Connection, setup_intent: dict[str, Any], expand: Sequence[str] = ()
) -> dict[str, Any]:
    """The rendered SetupIntent after a confirmation, or, when it was refused, the
    ``setup_failure`` raised (the caller commits the refused state)."""
    view = await render_setup_intent(conn, setup_intent, expand)
    if setup_intent["status"] == "requires_payment_method":
        raise setup_failure(view)
    return view


def setup_failure(view: dict[str, Any]) -> SetupFailed:
    """The error Stripe answers a refused confirmation with, naming both objects."""
    error = view["last_setup_error"]
    return SetupFailed(
        400,
        error["message"],
        code=error["code"],
        related={"payment_method": error["payment_method"], "setup_intent": view},
    )


async def _use_payment_method(
    conn: Connection, setup_intent: dict[str, Any], payment_method_id: Any
) -> None:
    if not isinstance(payment_method_id, str) or not payment_method_id:
        raise invalid("payment_method must be a PaymentMethod id.", param="payment_method")
    payment_method = await store.get(conn, payment_method_id, type="payment_method")
    if payment_method is None:
        raise missing("payment_method", payment_method_id, param="payment_method")
    owner = payment_method.get("customer")
    if owner is not None and owner != setup_intent.get("customer"):
        raise invalid(
            f"The payment method {payment_method_id} belongs to another customer.",
            param="payment_method",
        )
    setup_intent["payment_method"] = payment_method_id


def _require_mandate(setup_intent: dict[str, Any], mandate_data: Any) -> None:
    acceptance = (
        (mandate_data or {}).get("customer_acceptance") if isinstance(mandate_data, dict) else None
    )
    if not acceptance and not setup_intent.get("_mandate_accepted"):
        raise invalid(
            "A mandate is required: pass mandate_data[customer_acceptance].",
            param="mandate_data",
            code="parameter_missing",
        )
    setup_intent.pop("_mandate_accepted", None)


# Stripe cancels a SetupIntent only before it has done anything (docs/stripe.md §6).
CANCELLABLE = frozenset({"requires_payment_method", "requires_confirmation", "requires_action"})
CANCELLATION_REASONS = frozenset({"abandoned", "duplicate", "requested_by_customer"})


async def cancel_setup_intent(
    conn: Connection, setup_intent: dict[str, Any], reason: str | None
) -> dict[str, Any]:
    """``canceled``, with ``setup_intent.canceled`` sent; refused once it has moved on."""
    if setup_intent["status"] not in CANCELLABLE:
        raise invalid(
            "You cannot cancel this SetupIntent because it has a status of "
            f"{setup_intent['status']}.",
            code="setup_intent_unexpected_state",
        )
    setup_intent["status"] = "canceled"
    setup_intent["cancellation_reason"] = reason
    await save_setup_intent(conn, setup_intent)
    await world.emit(conn, "setup_intent.canceled", await render_setup_intent(conn, setup_intent))
    return setup_intent


async def confirm_setup_intent(
    conn: Connection,
    setup_intent: dict[str, Any],
    mandate_data: Any,
    *,
    payment_method_id: str | None = None,
) -> dict[str, Any]:
    """Confirm with a mandate. ``succeeded`` (the payment method attached to the customer,
    ``setup_intent.succeeded`` sent), or, when the control API armed a failure for the FC
    account, ``requires_payment_method`` with ``last_setup_error`` and
    ``setup_intent.setup_failed`` sent. Callers answer with ``confirmation_answer``."""
    if setup_intent["status"] in ("succeeded", "canceled"):
        raise invalid(
            f"This SetupIntent has already {setup_intent['status']}.",
            code="setup_intent_unexpected_state",
        )
    if payment_method_id is not None:
        await _use_payment_method(conn, setup_intent, payment_method_id)
    if not setup_intent.get("payment_method"):
        raise invalid(
            "You cannot confirm this SetupIntent because it's missing a payment method. "
            "Pass payment_method.",
            param="payment_method",
            code="parameter_missing",
        )
    _require_mandate(setup_intent, mandate_data)
    payment_method = await world.load(conn, setup_intent["payment_method"], type="payment_method")
    account_id = (payment_method.get("us_bank_account") or {}).get("financial_connections_account")
    armed = (
        await store.find(conn, type="setup_failure", lookup=account_id, for_update=True)
        if account_id
        else None
    )
    if armed is not None:
        await store.delete(conn, armed["id"], type="setup_failure")
        return await _refuse(conn, setup_intent, payment_method, armed["code"])
    setup_intent["status"] = "succeeded"
    setup_intent["mandate"] = new_id("mandate")
    setup_intent["last_setup_error"] = None
    await save_setup_intent(conn, setup_intent)
    customer_id = setup_intent.get("customer")
    if customer_id and payment_method.get("customer") != customer_id:
        payment_method["customer"] = customer_id
        await save_payment_method(conn, payment_method)
        await world.emit(
            conn, "payment_method.attached", await payment_method_view(conn, payment_method)
        )
    await world.emit(conn, "setup_intent.succeeded", await render_setup_intent(conn, setup_intent))
    return setup_intent


async def _refuse(
    conn: Connection, setup_intent: dict[str, Any], payment_method: dict[str, Any], code: str
) -> dict[str, Any]:
    """The bank refused the setup with ``code`` (armed by the control API)."""
    setup_intent["status"] = "requires_payment_method"
    # As Stripe does: the failed method leaves the intent and is named in the error.
    setup_intent["payment_method"] = None
    setup_intent["last_setup_error"] = {
        "code": code,
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "message": SETUP_FAILURE_MESSAGES.get(
            code, f"The bank account could not be set up ({code})."
        ),
        "payment_method": payment_method,
        "payment_method_type": "us_bank_account",
        "type": "invalid_request_error",
    }
    await save_setup_intent(conn, setup_intent)
    await world.emit(
        conn, "setup_intent.setup_failed", await render_setup_intent(conn, setup_intent)
    )
    return setup_intent
