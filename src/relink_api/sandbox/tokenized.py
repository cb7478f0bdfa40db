"""What happens to tokenized account numbers (TANs) over an account's life, and the events
Stripe sends about it (docs/stripe.md §2, §4 and §6; docs/sandbox.md, "Tokenized account
numbers"):

- a TAN nears its expiry: ``financial_connections.account.upcoming_account_number_expiry``;
- it expires (or the link breaks): the numbers are ``deactivated``, the account inactive,
  its payment methods blocked: ``…account.deactivated``, ``…account.account_numbers_updated``
  and ``payment_method.automatically_updated``;
- a relink (or a reactivation) issues a new TAN: ``…account.reactivated`` when the account
  was inactive, ``…account.account_numbers_updated``, and ``payment_method.automatically_updated``
  for the payment methods it unblocks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from relink_api.db import Connection
from relink_api.sandbox import account_numbers, payment_method_changes, store, world
from relink_api.sandbox.wire import invalid

DAY = 86_400


@asynccontextmanager
async def announced(conn: Connection, account_ids: list[str]) -> AsyncIterator[None]:
    """Announce what the block does to these accounts' numbers: ``account_numbers_updated``
    for each account whose numbers changed, and ``payment_method.automatically_updated``
    for the payment methods whose blocked status changed with them."""
    before: dict[str, Any] = {}
    for account_id in account_ids:
        account = await store.get(conn, account_id, type="account")
        if account is not None:
            before[account_id] = account.get("account_numbers")
    yield
    for account_id, numbers in before.items():
        account = await store.get(conn, account_id, type="account")
        if account is None or account.get("account_numbers") == numbers:
            continue
        await world.emit(
            conn, "financial_connections.account.account_numbers_updated", world.api_view(account)
        )
        if account_numbers.deactivated(numbers) != account_numbers.deactivated(
            account.get("account_numbers")
        ):
            await payment_method_changes.announce_automatic_update(conn, account)


async def _with_transactable_numbers(conn: Connection, account_id: str) -> dict[str, Any]:
    account = await world.load(conn, account_id, type="account")
    if not account_numbers.tokenized(account):
        raise invalid(
            f"{account_id} has no tokenized account numbers (only accounts at "
            f"{account_numbers.INSTITUTION_NAME} have them).",
            param="id",
        )
    if account["status"] == "disconnected" or not account_numbers.transactable(account):
        raise invalid(f"{account_id}'s account numbers are not transactable.", param="id")
    return account


async def warn_expiry(conn: Connection, account_id: str, *, days: int) -> dict[str, Any]:
    """The account's TANs expire in ``days`` days: ``upcoming_account_number_expiry``."""
    account = await _with_transactable_numbers(conn, account_id)
    account_numbers.expire_at(account, world.now() + days * DAY)
    await world.save_account(conn, account)
    await world.emit(
        conn,
        "financial_connections.account.upcoming_account_number_expiry",
        world.api_view(account),
    )
    return account


async def expire(conn: Connection, account_id: str) -> dict[str, Any]:
    """The account's TANs expire now: deactivated, and the account inactive until the
    customer relinks it (``access_expired``, ``relink_required``)."""
    account = await _with_transactable_numbers(conn, account_id)
    async with announced(conn, [account_id]):
        account_numbers.expire_at(account, world.now())
        await world.save_account(conn, account)
        expired = await world.deactivate_account(
            conn, account_id, cause="access_expired", action="relink_required"
        )
    return expired


async def connected_accounts(conn: Connection, authorization_id: str) -> list[str]:
    """The ids of the authorization's accounts that are not disconnected."""
    return [
        account["id"]
        for account in await store.accounts_on_authorization(conn, authorization_id)
        if account["status"] != "disconnected"
    ]


async def _reissue(conn: Connection, account_ids: list[str], *, relink: bool) -> None:
    """New TANs for the accounts a relink or a reactivation makes active: on a relink every
    account the customer authorized again, on a reactivation those whose TAN was lost."""
    for account_id in account_ids:
        account = await world.load(conn, account_id, type="account")
        details = (account.get("status_details") or {}).get("inactive") or {}
        revived = account["status"] == "active" or details.get("action") == "relink_required"
        lost = account_numbers.deactivated(account.get("account_numbers"))
        if (revived if relink else lost) and account_numbers.reissue(account):
            await world.save_account(conn, account)


async def relink(conn: Connection, authorization_id: str) -> list[str]:
    """A successful relink of the authorization: its accounts repaired and new TANs issued.
    Returns the accounts it reactivated."""
    account_ids = await connected_accounts(conn, authorization_id)
    async with announced(conn, account_ids):
        await _reissue(conn, account_ids, relink=True)
        reactivated = await world.repair_authorization(conn, authorization_id)
    return reactivated


@asynccontextmanager
async def reactivating(conn: Connection, account_ids: list[str]) -> AsyncIterator[None]:
    """Around a reactivation by Stripe: the accounts whose TAN was deactivated get a new
    one, announced as for a relink."""
    async with announced(conn, account_ids):
        await _reissue(conn, account_ids, relink=False)
        yield
