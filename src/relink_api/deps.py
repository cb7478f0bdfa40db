"""Request dependencies as ``Annotated`` aliases: the database, Stripe, the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from relink_api.auth import Authenticator, Principal
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


SettingsDep = Annotated[Settings, Depends(_settings)]
DatabaseDep = Annotated[Database, Depends(_database)]
StripeDep = Annotated[StripeGateway, Depends(_gateway)]
PrincipalDep = Annotated[Principal, Depends(_principal)]
