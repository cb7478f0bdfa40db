"""Path and query parameters several routers share, documented once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from relink_api.pagination import MAX_PAGE_SIZE
from relink_api.web.inputs import STORABLE_TEXT

AccountId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=255,
        pattern=STORABLE_TEXT,
        description="Stripe's Financial Connections account id.",
        examples=["fca_1PZ3xY2eZvKYlo2C"],
    ),
]

SessionId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=STORABLE_TEXT,
        description="relink-api's session id.",
        examples=["rls_3f9c2a7d41b8e6f0a2c4d5e6"],
    ),
]

Cursor = Annotated[
    str | None,
    Query(
        max_length=1024,
        description="The `next_cursor` of the previous page, unchanged (else a 400).",
    ),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")]
