"""Demo customers: one of each kind of link the relink page has to handle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relink_api.db import Connection
from relink_api.sandbox import account_numbers, payments, store, world
from relink_api.sandbox.wire import new_id

DAY = 86_400
# (status_details.inactive.action, cause) of a broken link.
_EXPIRED = ("relink_required", "access_expired")
_CLOSED = ("none", "account_closed")


@dataclass(frozen=True)
class _DemoAccount:
    authorization: str  # a key of _AUTHORIZATIONS
    display_name: str
    subcategory: str
    inactive: tuple[str, str] | None = None
    expiring: bool = False
    permissions: tuple[str, ...] | None = None


# Each demo authorization's institution.
_AUTHORIZATIONS = {
    "broken": "fcinst_SandboxBank",
    "closed": "fcinst_SandboxBank",
    "expiring": "fcinst_RiversideCU",
    "healthy": "fcinst_RiversideCU",
    "tokenized": account_numbers.INSTITUTION_ID,
}
# By role, the name the demo's callers know each account by.
_ACCOUNTS = {
    "relink_required": _DemoAccount("broken", "Everyday Checking", "checking", _EXPIRED),
    "relink_required_savings": _DemoAccount("broken", "High-Yield Savings", "savings", _EXPIRED),
    "credit_card": _DemoAccount(
        "broken", "Rewards Card", "credit_card", _EXPIRED, permissions=("balances",)
    ),
    "unrepairable": _DemoAccount("closed", "Old Checking", "checking", _CLOSED),
    "expiring": _DemoAccount("expiring", "Joint Checking", "checking", expiring=True),
    "healthy": _DemoAccount("healthy", "Rainy Day Savings", "savings"),
    # Healthy, with a tokenized account number: the sandbox's controls make it expire.
    "tokenized": _DemoAccount("tokenized", "Premier Checking", "checking"),
}
# Payment methods the business set up while these links still worked. They stay usable
# while the links are broken: only a deactivated tokenized number blocks one.
_PAYMENT_METHOD_ROLES = ("relink_required", "unrepairable", "healthy", "tokenized")


def _make_account(
    customer_id: str, spec: _DemoAccount, authorization: dict[str, Any]
) -> dict[str, Any]:
    action, cause = spec.inactive or (None, None)
    return world.make_account(
        customer_id=customer_id,
        authorization_id=authorization["id"],
        institution_id=authorization["institution"],
        display_name=spec.display_name,
        subcategory=spec.subcategory,
        status="inactive" if spec.inactive else "active",
        action=action,
        cause=cause,
        expected_deactivation_date=world.now() + 14 * DAY if spec.expiring else None,
        permissions=list(spec.permissions) if spec.permissions else None,
    )


async def create_demo_customer(conn: Connection, *, name: str = "Demo Customer") -> dict[str, Any]:
    """A customer with the demo accounts; the app hears of each through `account.created`."""
    customer = {
        "id": new_id("cus", 14),
        "object": "customer",
        "name": name,
        "email": "demo@example.com",
    }
    await store.put(conn, customer, type="customer")
    for institution_id, institution_name in world.INSTITUTIONS.items():
        await store.put(
            conn,
            {
                "id": institution_id,
                "object": "financial_connections.institution",
                "name": institution_name,
            },
            type="institution",
        )
    cid = customer["id"]
    authorizations = {
        key: world.make_authorization(customer_id=cid, institution_id=institution_id)
        for key, institution_id in _AUTHORIZATIONS.items()
    }
    roles = {
        role: _make_account(cid, spec, authorizations[spec.authorization])
        for role, spec in _ACCOUNTS.items()
    }
    for authorization in authorizations.values():
        await store.put(conn, authorization, type="authorization", lookup=cid)
    for account in roles.values():
        await world.save_account(conn, account)
        await world.emit(conn, "financial_connections.account.created", account)
    for authorization in authorizations.values():
        await world.refresh_authorization(conn, authorization["id"])
    payment_methods: dict[str, str] = {}
    for role in _PAYMENT_METHOD_ROLES:
        payment_method = payments.make_payment_method(roles[role], customer_id=cid, name=name)
        await payments.save_payment_method(conn, payment_method)
        payment_methods[role] = payment_method["id"]
    return {
        "customer_id": cid,
        "accounts": {role: account["id"] for role, account in roles.items()},
        "payment_methods": payment_methods,
    }
