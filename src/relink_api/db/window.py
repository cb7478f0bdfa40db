"""A time window of work left unfinished, as the queries that list it read it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Rows created inside the window (of its customers, if named), oldest first: the window's
# `args()` are $1..$4.
IN_WINDOW = """
    created_at < $1 AND created_at > $2 AND ($3::text[] IS NULL OR customer_id = ANY($3))
    ORDER BY created_at
    LIMIT $4
"""


@dataclass(frozen=True, slots=True)
class CreatedWindow:
    """Rows created after ``created_after`` and before ``created_before``, of
    ``customer_ids`` (or everyone's), at most ``limit`` of them."""

    created_before: datetime
    created_after: datetime
    customer_ids: Sequence[str] | None
    limit: int

    def args(self) -> tuple[Any, ...]:
        """The query arguments ``IN_WINDOW`` expects."""
        customers = list(self.customer_ids) if self.customer_ids is not None else None
        return (self.created_before, self.created_after, customers, self.limit)
