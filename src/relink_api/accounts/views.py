"""Accounts as the API shows them: one stored account as a model, a page of the list
query's rows as models validated at once, and a page PostgreSQL wrote as the JSON its model
would give, with no object built per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import orjson
from pydantic import TypeAdapter

from relink_api.accounts.listing import ListedAccount, PageText
from relink_api.accounts.models import AccountRow
from relink_api.accounts.schemas import AccountRead
from relink_api.pagination import encode_cursor

Shown = TypeVar("Shown", bound=AccountRead)

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


def page_json(page: PageText) -> bytes:
    """A page written by ``listing.page_text`` as the JSON of ``AccountList`` (and its kin),
    byte for byte what pydantic would write for the models."""
    cursor = b"null"
    if page.has_more and page.last_id is not None:
        cursor = orjson.dumps(encode_cursor(page.last_id))
    more = b"true" if page.has_more else b"false"
    accounts = page.accounts.encode()
    return b'{"data":[' + accounts + b'],"has_more":' + more + b',"next_cursor":' + cursor + b"}"
