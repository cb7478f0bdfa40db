"""Path and query parameters several routers share, documented once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Path, Query

from relink_api.pagination import MAX_PAGE_SIZE
from relink_api.web.inputs import STORABLE_TEXT


def _stored_id(
    where: Callable[..., Any], description: str, example: str, *, max_length: int = 255
) -> Any:
    """An id the database is asked about: not empty, bounded, and storable as text."""
    return where(
        min_length=1,
        max_length=max_length,
        pattern=STORABLE_TEXT,
        description=description,
        examples=[example],
    )


AccountId = Annotated[
    str, _stored_id(Path, "Stripe's Financial Connections account id.", "fca_1PZ3xY2eZvKYlo2C")
]
AuthorizationId = Annotated[
    str,
    _stored_id(
        Path,
        "Stripe's Financial Connections authorization id (fcauth_…).",
        "fcauth_1PZ3xY2eZvKYlo2C",
    ),
]
SessionId = Annotated[
    str,
    _stored_id(Path, "relink-api's session id.", "rls_3f9c2a7d41b8e6f0a2c4d5e6", max_length=64),
]
CustomerFilter = Annotated[
    str | None, _stored_id(Query, "Only this Stripe customer's accounts.", "cus_Kmaci5w0veLUJZ")
]
InstitutionFilter = Annotated[
    str | None,
    _stored_id(
        Query, "Only accounts at this institution (Stripe's fcinst_… id).", "fcinst_StripeBank"
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
