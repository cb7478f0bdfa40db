"""Request dependencies as ``Annotated`` aliases: the database, Stripe, the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from relink_api.auth import (
    ADMIN_KEY_HEADER,
    Authenticator,
    Operator,
    Principal,
    authenticate_admin,
)
from relink_api.db import Database
from relink_api.settings import Settings
from relink_api.stripe_gateway import StripeGateway


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def _gateway(request: Request) -> StripeGateway:
    gateway: StripeGateway = request.app.state.stripe
    return gateway


async def _principal(request: Request) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.authenticate(request.headers.get("authorization"))


# Declares the apiKey security scheme in the OpenAPI document; the refusals are ours
# (auto_error=False), so they are problem documents with our challenge.
_admin_key_header = APIKeyHeader(
    name=ADMIN_KEY_HEADER,
    scheme_name="AdminApiKey",
    description="An operator API key from `relink-api admin-key`.",
    auto_error=False,
)


async def _operator(
    request: Request, key: Annotated[str | None, Security(_admin_key_header)]
) -> Operator:
    settings: Settings = request.app.state.settings
    return authenticate_admin(
        settings,
        key=key,
        authorization_header=request.headers.get("authorization"),
    )


SettingsDep = Annotated[Settings, Depends(_settings)]
DatabaseDep = Annotated[Database, Depends(_database)]
StripeDep = Annotated[StripeGateway, Depends(_gateway)]
PrincipalDep = Annotated[Principal, Depends(_principal)]
AdminDep = Annotated[Operator, Depends(_operator)]
