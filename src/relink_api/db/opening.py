"""Opening the database for the server and the commands: ``DATABASE_URL`` or the embedded
PostgreSQL, with the migrations applied, or one sentence saying where and why it failed
(never a traceback, never the password)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import asyncpg

from relink_api.db.embedded import start_embedded_postgres
from relink_api.db.migrate import Migration, apply_migrations
from relink_api.db.pool import Database, DatabaseUnavailable
from relink_api.settings import ConfigurationError, Settings


async def database_url(settings: Settings) -> str:
    """``DATABASE_URL``, or the DSN of the embedded PostgreSQL in the data folder."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return await start_embedded_postgres(settings.data_dir)


class DatabaseNotOpened(ConfigurationError):
    """The database could not be opened at start-up; the message says where and why, in
    one sentence, never with the password."""


# Failures that mean the server or the account is wrong, not the migrations: with a pool
# that connects lazily (RELINK_DB_POOL_MIN_SIZE=0) they surface at the first query.
_REFUSED_BY_SERVER = (
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidCatalogNameError,
    asyncpg.InsufficientPrivilegeError,
)


def _where(settings: Settings) -> str:
    if settings.database_url is None:
        return f"the embedded PostgreSQL in {settings.data_dir}"
    parts = urlsplit(settings.database_url.get_secret_value())
    try:
        port = parts.port
    except ValueError:
        port = None
    # Host, port and database only: the user name and password stay out of logs.
    name = parts.path.lstrip("/")
    if parts.hostname:
        place = parts.hostname + (f":{port}" if port else "") + (f"/{name}" if name else "")
    else:
        place = f"database {name}" if name else ""
    return f"DATABASE_URL ({place})" if place else "DATABASE_URL"


def _why(exc: BaseException) -> str:
    if isinstance(exc, DatabaseUnavailable) and exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return "the server refused the user name or password"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return "that database does not exist on the server"
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        return "the user may not create or change the tables (the migrations need that)"
    if isinstance(exc, ConnectionRefusedError):
        return "nothing accepts connections there"
    if isinstance(exc, socket.gaierror):
        return "its host name does not resolve"
    if isinstance(exc, TimeoutError):
        return "the server did not answer in time"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    if isinstance(exc, ValueError | asyncpg.InterfaceError):
        return "the URL's options are not valid"
    return f"the server answered {type(exc).__name__}"


def _not_opened(settings: Settings, exc: BaseException) -> DatabaseNotOpened:
    return DatabaseNotOpened(f"Cannot open the database at {_where(settings)}: {_why(exc)}.")


async def connect_database(settings: Settings) -> Database:
    """The pool on ``DATABASE_URL`` (or the embedded server), or ``DatabaseNotOpened``."""
    dsn = await database_url(settings)
    try:
        return await Database.connect(dsn, settings)
    except (
        OSError,
        TimeoutError,
        ValueError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
    ) as exc:
        raise _not_opened(settings, exc) from exc


async def migrate_database(database: Database, settings: Settings) -> list[Migration]:
    """Apply pending migrations (under an advisory lock); ``DatabaseNotOpened`` when the
    server cannot be reached or refuses the account."""
    try:
        # The migrations hold a session-level advisory lock.
        async with database.connection(keeps_session_state=True) as conn:
            return await apply_migrations(conn)
    except (DatabaseUnavailable, *_REFUSED_BY_SERVER) as exc:
        raise _not_opened(settings, exc) from exc


async def open_database(settings: Settings) -> Database:
    """Connect and bring the schema up to date (under an advisory lock)."""
    database = await connect_database(settings)
    try:
        await migrate_database(database, settings)
    except BaseException:
        await database.close()
        raise
    return database
