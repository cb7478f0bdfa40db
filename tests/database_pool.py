"""Databases for tests, cloned from the migrated template and reused once reset.

Cloning a database copies its whole catalog (about 8 MB): 0.1-0.3 s on a CI machine, paid by
more than a thousand tests. A database a test has finished with is instead emptied (every
table of the template truncated, the sandbox's schema dropped) and handed to the next test
only if its catalog, its sequences and its ``schema_migrations`` rows are then exactly the
template's; anything else a test left behind (a table, a function, a trigger, a setting, a
changed migration record) gets the database dropped and the next test a fresh clone. So
every test still starts from a database indistinguishable from a new clone.
"""

from __future__ import annotations

import asyncio
import secrets

import asyncpg

from tests.support import dsn_for

# What a test can leave behind other than table rows, in one comparable text. The template's
# only rows are its ``schema_migrations``, compared here too.
FINGERPRINT = r"""
SELECT md5(coalesce(string_agg(item, E'\n' ORDER BY item), '')) FROM (
    SELECT 'schema ' || nspname AS item FROM pg_namespace
     WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'
    UNION ALL
    SELECT format('relation %s %s %s %s', c.oid::regclass, c.relkind, c.relnatts, c.relacl)
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
    UNION ALL
    SELECT format('column %s.%s %s %s %s %s', a.attrelid::regclass, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attisdropped,
                  pg_get_expr(d.adbin, d.adrelid))
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attnum > 0 AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
    UNION ALL
    SELECT format('constraint %s %s %s', conrelid::regclass, conname,
                  pg_get_constraintdef(oid))
      FROM pg_constraint WHERE connamespace IN (
          SELECT oid FROM pg_namespace
           WHERE nspname !~ '^pg_' AND nspname <> 'information_schema')
    UNION ALL
    SELECT 'index ' || indexdef FROM pg_indexes
     WHERE schemaname !~ '^pg_' AND schemaname <> 'information_schema'
    UNION ALL
    SELECT format('trigger %s %s', tgrelid::regclass, tgname) FROM pg_trigger
     WHERE NOT tgisinternal
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
    UNION ALL
    SELECT 'type ' || t.oid::regtype FROM pg_type t
      JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
    UNION ALL
    SELECT format('extension %s %s', extname, extversion) FROM pg_extension
    UNION ALL
    SELECT format('sequence %s.%s %s', schemaname, sequencename, last_value)
      FROM pg_sequences
    UNION ALL
    SELECT format('setting %s', setconfig) FROM pg_db_role_setting
     WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
    UNION ALL
    SELECT format('database %s %s %s', datconnlimit, datallowconn, datacl) FROM pg_database
     WHERE datname = current_database()
    UNION ALL
    SELECT 'migration ' || m::text FROM schema_migrations m
) AS everything
"""
# Every table of the template but the migrations' own record.
TABLES = r"""
SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
 WHERE schemaname !~ '^pg_' AND schemaname <> 'information_schema'
   AND tablename <> 'schema_migrations'
"""
# Made at run time by a sandbox-mode app (relink_api.sandbox.store), never by migrations.
RUNTIME_SCHEMAS = ("sandbox",)


class DatabasePool:
    """Hands out databases equal to ``template``; takes them back after each test."""

    def __init__(self, admin_dsn: str, template: str) -> None:
        self._admin_dsn = admin_dsn
        self._template = template
        self._idle: list[str] = []
        self._fingerprint = ""
        self._tables: list[str] = []
        self._reusable = False

    async def open(self) -> None:
        """Read what a clean database looks like (the template, as migrated)."""
        conn = await asyncpg.connect(dsn_for(self._admin_dsn, self._template))
        try:
            self._fingerprint = await conn.fetchval(FINGERPRINT)
            self._tables = [row[0] for row in await conn.fetch(TABLES)]
            filled = [table for table in self._tables if await _has_rows(conn, table)]
        finally:
            await conn.close()
        # Emptying would lose the template's rows: clone for every test instead.
        self._reusable = not filled

    async def take(self) -> str:
        """A database equal to the template: a reset one, else a new clone."""
        if self._idle:
            return dsn_for(self._admin_dsn, self._idle.pop())
        name = f"t_{secrets.token_hex(6)}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        return dsn_for(self._admin_dsn, name)

    async def give_back(self, dsn: str) -> None:
        """Reset the database for the next test, or drop it if it cannot be made clean."""
        name = dsn.partition("?")[0].rsplit("/", 1)[1]
        if self._reusable and await self._reset(name):
            self._idle.append(name)
            return
        await self._admin(f'DROP DATABASE "{name}" WITH (FORCE)')

    async def close(self) -> None:
        while self._idle:
            await self._admin(f'DROP DATABASE "{self._idle.pop()}" WITH (FORCE)')

    async def _reset(self, name: str) -> bool:
        await self._end_sessions(name)
        conn = await asyncpg.connect(dsn_for(self._admin_dsn, name))
        try:
            for schema in RUNTIME_SCHEMAS:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            # Only what the test wrote to: truncating all the tables costs ten times more.
            filled = [table for table in self._tables if await _has_rows(conn, table)]
            if filled:
                await conn.execute(f"TRUNCATE {', '.join(filled)} RESTART IDENTITY CASCADE")
            clean: bool = await conn.fetchval(FINGERPRINT) == self._fingerprint
        except asyncpg.PostgresError:
            # Whatever the test did, it is not ours to repair: start over from a clone.
            clean = False
        finally:
            await conn.close()
        return clean

    async def _end_sessions(self, name: str) -> None:
        """End every connection the test left open (as DROP … WITH (FORCE) would), and wait
        until they are gone, so that nothing of the test runs on into the next one."""
        admin = await asyncpg.connect(dsn_for(self._admin_dsn, "postgres"))
        try:
            for _ in range(500):
                left = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = $1 AND pid <> pg_backend_pid()",
                    name,
                )
                if left == 0:
                    return
                await asyncio.sleep(0.01)
            raise TimeoutError(f"connections to {name} did not end")
        finally:
            await admin.close()

    async def _admin(self, statement: str) -> None:
        admin = await asyncpg.connect(dsn_for(self._admin_dsn, "postgres"))
        try:
            await admin.execute(statement)
        finally:
            await admin.close()


async def _has_rows(conn: asyncpg.Connection, table: str) -> bool:
    return bool(await conn.fetchval(f"SELECT EXISTS (SELECT FROM {table})"))
