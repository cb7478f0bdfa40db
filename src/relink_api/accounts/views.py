"""Accounts as the API shows them: one stored account as a model, and a whole page of the
list query's rows straight to the JSON its model would give, with no object built per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import orjson
from pydantic import TypeAdapter

from relink_api.accounts.listing import ListedAccount
from relink_api.accounts.models import AccountRow
from relink_api.accounts.schemas import AccountRead, AccountStatus

Shown = TypeVar("Shown", bound=AccountRead)

# A status Stripe added after this code reads `unknown`, as AccountStatus validates it.
_SHOWN_STATUS = {status.value: status.value for status in AccountStatus}
# One adapter per model, built once: building one compiles a validator.
_PAGE_ADAPTERS: dict[type[AccountRead], TypeAdapter[Any]] = {}


def to_read(row: AccountRow) -> AccountRead:
    """One stored account as the API shows it."""
    return AccountRead.model_validate(row, from_attributes=True)


def _fields(model: type[AccountRead], records: Sequence[ListedAccount]) -> list[dict[str, Any]]:
    # The list query's columns are the model's fields, in order.
    names = tuple(model.model_fields)
    return [dict(zip(names, record, strict=True)) for record in records]


def shown_as(model: type[Shown], records: Sequence[ListedAccount]) -> list[Shown]:
    """Rows of ``listing.list_page`` as ``model``s, the page validated in one call."""
    adapter = _PAGE_ADAPTERS.get(model)
    if adapter is None:
        adapter = _PAGE_ADAPTERS[model] = TypeAdapter(list[model])  # type: ignore[valid-type]
    shown: list[Shown] = adapter.validate_python(_fields(model, records))
    return shown


def page_json(
    model: type[AccountRead],
    records: Sequence[ListedAccount],
    *,
    has_more: bool,
    next_cursor: str | None,
) -> bytes:
    """Rows of ``listing.list_page`` as the JSON of a page (``AccountList`` and its kin),
    byte for byte what pydantic would write for the models: the columns are already the
    fields' JSON values (text, booleans, text arrays) but for the status, shown as
    ``AccountStatus`` shows it, and timestamps, which orjson writes as pydantic does
    (UTC as ``Z``, microseconds only when there are some)."""
    rows = _fields(model, records)
    for row in rows:
        row["status"] = _SHOWN_STATUS.get(row["status"], AccountStatus.unknown.value)
    page = {"data": rows, "has_more": has_more, "next_cursor": next_cursor}
    return orjson.dumps(page, option=orjson.OPT_UTC_Z)
