"""The query behind every list of accounts (the customer's and the operator's): one
statement a page, selecting exactly the fields of the model the list shows, named and
ordered as the model has them, so that a page needs no per-row object (``accounts.views``).
The customer's list goes further: PostgreSQL writes the page's accounts as JSON text, so
the driver decodes one value instead of every column of every row.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from relink_api.accounts.health_conditions import having_health
from relink_api.accounts.models import AccountFilter
from relink_api.accounts.repository import HEALTH_NOW
from relink_api.accounts.schemas import AccountRead, AccountStatus
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


def _where(matching: AccountFilter, after_id: str | None, param: Callable[[Any], str]) -> str:
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
    return " WHERE " + " AND ".join(conditions) if conditions else ""


class _Params:
    """The arguments of one statement, each added as the next ``$n``."""

    def __init__(self) -> None:
        self.args: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"


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
    param = _Params()
    where = _where(matching, after_id, param)
    query = _select(model) + where + f" ORDER BY id LIMIT {param(limit)}"
    return await conn.fetch(query, *param.args, record_class=ListedAccount)


# Timestamps as pydantic writes them: UTC as `Z`, the microseconds only when there are some.
_WHOLE_SECOND = '\'YYYY-MM-DD"T"HH24:MI:SS"Z"\''
_FRACTION = '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\''
# A status Stripe added after this code is shown as `unknown`, as AccountStatus reads it.
_KNOWN_STATUSES = ", ".join(f"'{status.value}'" for status in AccountStatus)


def _as_shown(name: str, annotation: Any) -> str:
    """The SQL of a field's value as JSON shows it: ``row_to_json`` writes text, booleans,
    text arrays and nulls as pydantic does; a status and a timestamp need saying how."""
    column = _COLUMNS.get(name, name)
    if annotation is AccountStatus:
        return f"CASE WHEN {column} IN ({_KNOWN_STATUSES}) THEN {column} ELSE 'unknown' END"
    if annotation in (datetime, datetime | None):
        fraction = f"date_trunc('second', {column}) = {column}"
        shape = f"CASE WHEN {fraction} THEN {_WHOLE_SECOND} ELSE {_FRACTION} END"
        return f"to_char({column} AT TIME ZONE 'UTC', {shape})"
    return column


@functools.cache
def _shown_select(model: type[AccountRead]) -> str:
    fields = model.model_fields.items()
    return "SELECT " + ", ".join(
        f"{_as_shown(name, field.annotation)} AS {name}" for name, field in fields
    )


@dataclass(frozen=True, slots=True)
class PageText:
    """A page of accounts written by PostgreSQL: the JSON objects of its accounts joined by
    commas (no brackets), whether more match, and the id of its last account."""

    accounts: str
    has_more: bool
    last_id: str | None


async def page_text(
    conn: Connection,
    *,
    model: type[AccountRead],
    matching: AccountFilter,
    after_id: str | None,
    limit: int,
) -> PageText:
    """Up to ``limit`` accounts that match, in id order, after ``after_id``, as the JSON of
    ``model`` (byte for byte what pydantic writes), in one statement and one value."""
    param = _Params()
    where = _where(matching, after_id, param)
    count = param(limit)
    # One more than shown says whether another page exists.
    shown = f"{_shown_select(model)} FROM accounts{where} ORDER BY id LIMIT {count} + 1"
    numbered = (
        "SELECT a.id, row_to_json(a)::text AS shown, row_number() OVER (ORDER BY a.id) AS n "
        f"FROM ({shown}) AS a"
    )
    query = (
        f"SELECT coalesce(string_agg(shown, ',' ORDER BY n) FILTER (WHERE n <= {count}), ''), "
        f"count(*) > {count}, max(id) FILTER (WHERE n = {count}) FROM ({numbered}) AS page"
    )
    # An aggregate without GROUP BY: always exactly one row.
    row = await conn.fetchrow(query, *param.args)
    assert row is not None
    return PageText(row[0], row[1], row[2])
