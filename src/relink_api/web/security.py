"""The customer bearer-token scheme as the OpenAPI document declares it.

``relink_api.auth`` verifies the token; this dependency only makes the requirement visible
to generated clients. It never refuses (``auto_error=False``): the refusal is the
authenticator's, a problem document with its own challenge.
"""

from __future__ import annotations

from fastapi import Security
from fastapi.params import Depends
from fastapi.security import HTTPBearer

bearer_scheme = HTTPBearer(
    scheme_name="BearerAuth",
    bearerFormat="JWT",
    description="A JWT from the host application naming the Stripe customer (the "
    "`stripe_customer` claim by default; `relink-api token cus_…` mints one in development).",
    auto_error=False,
)

CUSTOMER_AUTH: list[Depends] = [Security(bearer_scheme)]

# ``openapi_extra`` of an operation anyone may call: it declares an empty requirement rather
# than none, so generators and linters can tell a public operation from a forgotten one.
NO_CREDENTIALS: dict[str, object] = {"security": []}
