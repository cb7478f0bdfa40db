"""Opaque cursors for id-ordered pagination."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from relink_api.errors import BadRequest

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 25


class InvalidCursor(BadRequest, slug="invalid-cursor", title="The cursor is not valid"):
    """A ``cursor`` this server did not issue."""


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The id to continue after; ``InvalidCursor`` for anything we did not issue."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        # validate=True: characters outside the alphabet are an error, not silently skipped.
        text = base64.b64decode(padded.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursor("Pass the `next_cursor` of a previous page unchanged.") from exc
    version, _, last_id = text.partition(":")
    # No id holds NUL (PostgreSQL text cannot): such a cursor was never issued.
    if version != "v1" or not last_id or "\x00" in last_id:
        raise InvalidCursor("Pass the `next_cursor` of a previous page unchanged.")
    return last_id


class HasId(Protocol):
    @property
    def id(self) -> str: ...


Row = TypeVar("Row", bound=HasId)


@dataclass(frozen=True, slots=True)
class Page(Generic[Row]):
    """One page of id-ordered rows, and the cursor that continues after it."""

    rows: list[Row]
    has_more: bool
    next_cursor: str | None


async def fetch_page(
    fetch: Callable[[str | None, int], Awaitable[Sequence[Row]]],
    *,
    cursor: str | None,
    limit: int,
) -> Page[Row]:
    """Read up to ``limit`` rows after ``cursor``: ``fetch(after_id, n)`` returns at most
    ``n`` rows in id order, and one more than asked for says whether another page exists."""
    rows = list(await fetch(decode_cursor(cursor), limit + 1))
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, has_more, encode_cursor(rows[-1].id) if has_more else None)
