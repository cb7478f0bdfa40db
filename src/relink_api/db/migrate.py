"""Forward-only, numbered ``.sql`` migrations, applied under an advisory lock."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

from relink_api.db.pool import Connection

logger = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every replica.
_MIGRATION_LOCK_ID = 0x72656C696E6B  # "relink"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """The database and the migration files disagree; the message says how."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    """The migration files shipped in ``relink_api.db.migrations``, in version order."""
    migrations: list[Migration] = []
    for entry in resources.files("relink_api.db.migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        migrations.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    migrations.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError("Two migration files share a version number.")
    return migrations


async def apply_migrations(conn: Connection) -> list[Migration]:
    """Apply what is missing; return what was applied. Safe to run from several replicas."""
    migrations = load_migrations()
    # Session-level lock: replicas starting together wait here, then find nothing to do.
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_ID)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     integer PRIMARY KEY,
                name        text NOT NULL,
                checksum    text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        applied = {row["version"]: row for row in rows}
        known = {migration.version for migration in migrations}
        unknown = sorted(set(applied) - known)
        if unknown:
            raise MigrationError(
                f"The database has migration {unknown[-1]:04d}, which this version of "
                "relink-api does not know; run a newer release."
            )
        done: list[Migration] = []
        for migration in migrations:
            row = applied.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"Migration {migration.version:04d}_{migration.name} was changed after "
                        "it was applied; migrations are forward-only, add a new file instead."
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            logger.info("applied migration %04d_%s", migration.version, migration.name)
            done.append(migration)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_ID)
