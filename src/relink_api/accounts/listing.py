"""The query behind every list of accounts (the customer's and the operator's): one
statement a page, selecting exactly the fields of the model the list shows, named and
ordered as the model has them, so that a page needs no per-row object (``accounts.views``).
"""

from __future__ import annotations

import functools
from typing import Any

import asyncpg

from relink_api.accounts.health_conditions import having_health
from relink_api.accounts.models import AccountFilter
from relink_api.accounts.repository import HEALTH_NOW
from relink_api.accounts.schemas import AccountRead
from relink_api.db import Connection

# The fields whose column has another name, or that the database computes; every other
# field is the column of its name. Nothing a list does not show is read (the snapshot and
# the account holder's JSON would be decoded row by row for nothing).
_COLUMNS = {"link_health": HEALTH_NOW, "needs_new_payment_method": "needs_payment_method"}


class ListedAccount(asyncpg.Record):
    """A row of a list: the model's fields, in the model's order."""

    @property
    def id(self) -> str:
        """The account's id, which continues the list after it (the cursor)."""
        value: str = self["id"]
        return value


@functools.cache
def _select(model: type[AccountRead]) -> str:
    columns = ", ".join(f"{_COLUMNS.get(name, name)} AS {name}" for name in model.model_fields)
    return f"SELECT {columns} FROM accounts"


async def list_page(
    conn: Connection,
    *,
    model: type[AccountRead],
    matching: AccountFilter,
    after_id: str | None,
    limit: int,
) -> list[ListedAccount]:
    """Up to ``limit`` accounts that match, in id order, after ``after_id``, each with the
    fields of ``model``."""
    args: list[Any] = []

    def param(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    # Only the filters given become conditions, so each query can use its index.
    conditions = []
    if matching.customer_id is not None:
        conditions.append(f"customer_id = {param(matching.customer_id)}")
    if matching.health:
        conditions.append(having_health(matching.health))
    if matching.institution_id is not None:
        conditions.append(f"institution_id = {param(matching.institution_id)}")
    if after_id is not None:
        conditions.append(f"id > {param(after_id)}")
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    query = _select(model) + where + f" ORDER BY id LIMIT {param(limit)}"
    return await conn.fetch(query, *args, record_class=ListedAccount)
