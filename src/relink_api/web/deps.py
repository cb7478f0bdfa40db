"""Request dependencies as ``Annotated`` aliases: the database, Stripe, the caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request, Response, Security, params
from fastapi.security import APIKeyHeader

from relink_api.auth import (
    ADMIN_KEY_HEADER,
    Authenticator,
    Operator,
    Principal,
    authenticate_admin,
)
from relink_api.db import Database
from relink_api.gateway.client import StripeGateway
from relink_api.idempotency.service import (
    HEADER,
    MAX_KEY_LENGTH,
    REPLAYED_HEADER,
    IdempotencyKey,
    Idempotent,
    parse_key,
)
from relink_api.ratelimit import service as ratelimit
from relink_api.ratelimit.service import Rate
from relink_api.settings import Settings

T = TypeVar("T")
Caller = TypeVar("Caller")


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def database_of(request: Request) -> Database:
    """The application's database."""
    database: Database = request.app.state.database
    return database


async def _gateway(request: Request) -> StripeGateway:
    gateway: StripeGateway = request.app.state.stripe
    return gateway


async def principal_of(request: Request) -> Principal:
    """The customer the request's bearer token names (a 401 problem otherwise)."""
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.authenticate(request.headers.get("authorization"))


# Declares the apiKey security scheme in the OpenAPI document; the refusals are ours
# (auto_error=False), so they are problem documents with our challenge.
ADMIN_KEY_SCHEME = APIKeyHeader(
    name=ADMIN_KEY_HEADER,
    scheme_name="AdminApiKey",
    description="An operator API key from `relink-api admin-key`.",
    auto_error=False,
)


def client_address(request: Request) -> str:
    """The client's address as the server sees it (the proxy's, unless uvicorn is told to
    trust the proxy's forwarded headers)."""
    return request.client.host if request.client is not None else "unknown"


async def authenticate_operator(
    request: Request, key: Annotated[str | None, Security(ADMIN_KEY_SCHEME)]
) -> Operator:
    """The operator behind the admin key, each failed guess throttled per address."""
    settings: Settings = request.app.state.settings
    database: Database = request.app.state.database
    # Every attempt takes a turn from its address before the key is looked at, and a right
    # key gives it back: concurrent guesses cannot slip past a count taken afterwards, and
    # operators are never slowed by their own successful requests.
    throttle = f"admin-key:{client_address(request)}"
    rate = ratelimit.guess_rate(settings)
    await ratelimit.enforce(
        database, key=throttle, rate=rate, what="failed admin API key attempts from this address"
    )
    operator = authenticate_admin(
        settings,
        key=key,
        authorization_header=request.headers.get("authorization"),
    )
    await ratelimit.give_back(database, key=throttle, rate=rate)
    return operator


async def _idempotency_key(
    request: Request,
    # Typed `str` with a None default so the document says "optional string", not
    # "string or null": a header is either sent or not.
    key: Annotated[
        str,  # noqa: RUF013
        Header(
            alias=HEADER,
            description="Makes this create safe to retry: a repeat with the same key and "
            "body, within 24 hours, returns the first result (with `Idempotent-Replayed: "
            "true`) instead of creating another. At most 255 printable ASCII characters; a "
            "UUID is a good choice.",
            # Documented only: the check is ours, so a bad key is a 400, not a 422.
            # Printable ASCII; HTTP drops spaces at either end, so none are documented there.
            json_schema_extra={
                "maxLength": MAX_KEY_LENGTH,
                "minLength": 1,
                "pattern": "^[!-~]([ -~]*[!-~])?$",
            },
            examples=["6c1d4bde-0d7f-4ad3-9d5e-2b8e1c7f5a10"],
        ),
    ] = None,  # type: ignore[assignment]
) -> IdempotencyKey | None:
    return parse_key(key, method=request.method, path=request.url.path)


# --- Rate limits (issue 11): after authentication, before anything calls Stripe -------


def _rate_limit(
    caller: Callable[..., Awaitable[Caller]],
    key: Callable[[Caller], str],
    rate: Callable[[Settings], Rate],
    what: str,
) -> params.Depends:
    """Charge each request to the caller ``caller`` resolves: a 429 with ``Retry-After``
    past ``rate``."""

    # A default rather than an Annotated alias: FastAPI resolves string annotations in the
    # module's globals, where ``caller`` is not.
    async def limit(
        *,
        who: Caller = Depends(caller),
        database: Annotated[Database, Depends(database_of)],
        settings: Annotated[Settings, Depends(_settings)],
    ) -> None:
        await ratelimit.enforce(database, key=key(who), rate=rate(settings), what=what)

    return params.Depends(limit)


def _customer_key(principal: Principal) -> str:
    return f"customer:{principal.customer_id}"


_CUSTOMER_REQUESTS = "requests that call Stripe for this customer"

CUSTOMER_RATE_LIMIT = _rate_limit(
    principal_of, _customer_key, ratelimit.customer_rate, _CUSTOMER_REQUESTS
)
"""On every customer route that calls Stripe."""


async def charge_customer(request: Request, principal: Principal) -> None:
    """What ``CUSTOMER_RATE_LIMIT`` does, for a route that resolves no dependencies."""
    settings: Settings = request.app.state.settings
    await ratelimit.enforce(
        await database_of(request),
        key=_customer_key(principal),
        rate=ratelimit.customer_rate(settings),
        what=_CUSTOMER_REQUESTS,
    )


OPERATOR_RATE_LIMIT = _rate_limit(
    authenticate_operator,
    lambda operator: f"operator:{operator.key_id}",
    ratelimit.operator_rate,
    "requests that call Stripe for this admin API key",
)
"""On every operator route that calls Stripe."""


def created(response: Response, result: Idempotent[T]) -> T:
    """An idempotent create's value, with the headers each one answers: ``no-store`` (the
    body describes a customer's bank link, and may carry a client secret), and
    ``Idempotent-Replayed`` when it repeats an earlier request's result."""
    response.headers["Cache-Control"] = "no-store"
    if result.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return result.value


SettingsDep = Annotated[Settings, Depends(_settings)]
DatabaseDep = Annotated[Database, Depends(database_of)]
StripeDep = Annotated[StripeGateway, Depends(_gateway)]
PrincipalDep = Annotated[Principal, Depends(principal_of)]
AdminDep = Annotated[Operator, Depends(authenticate_operator)]
IdempotencyKeyDep = Annotated[IdempotencyKey | None, Depends(_idempotency_key)]
