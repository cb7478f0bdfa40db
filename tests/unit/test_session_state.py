"""The pool resets a connection in full only after work that says it leaves session state
(``Database.connection(keeps_session_state=True)``): any other SQL that would leave some (a
session-level advisory lock, a ``SET`` without ``LOCAL``, ``LISTEN``, a temporary table, a
cursor held past its transaction, a prepared statement) would reach the next unit of work on
that connection. Only the migrations, run that way, may hold such state."""

from __future__ import annotations

import re
from pathlib import Path

import relink_api

PACKAGE = Path(relink_api.__file__).parent
# Run under keeps_session_state=True (db/opening.py); their own transactions' SQL is theirs.
ALLOWED = {PACKAGE / "db" / "migrate.py", *(PACKAGE / "db" / "migrations").glob("*.sql")}

SESSION_STATE = re.compile(
    r"pg_(?:try_)?advisory_lock(?:_shared)?\s*\("
    # The keyword in capitals, as this code writes SQL: "set X to …" in a message is prose.
    r"|[\"'(]\s*(?-i:SET)\s+(?!LOCAL\b)(?:SESSION\s+)?\w+\s*(?:=|TO\b)"
    r"|set_config\s*\([^)]*\bfalse\s*\)"
    r"|[\"'(]\s*(?:UN)?LISTEN\s"
    r"|\bCREATE\s+(?:GLOBAL\s+|LOCAL\s+)?TEMP(?:ORARY)?\s+TABLE"
    r"|\bWITH\s+HOLD\b"
    r"|[\"'(]\s*PREPARE\s+\w+"
    r"|\.add_listener\s*\(",
    re.IGNORECASE,
)


def offenders() -> list[str]:
    found = []
    for path in sorted([*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.sql")]):
        if path in ALLOWED:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if SESSION_STATE.search(line):
                found.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    return found


def test_no_sql_outside_the_migrations_leaves_session_state() -> None:
    assert offenders() == []


def test_the_check_finds_each_kind_of_session_state() -> None:
    for sql in (
        "await conn.execute('SELECT pg_advisory_lock($1)', 1)",
        'await conn.execute("SET statement_timeout = 100")',
        "await conn.execute(\"SELECT set_config('x.y', 'z', false)\")",
        "await conn.execute('LISTEN jobs')",
        "CREATE TEMP TABLE staged (id int)",
        "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
        "await conn.execute('PREPARE q AS SELECT 1')",
        "await conn.add_listener('jobs', on_job)",
    ):
        assert SESSION_STATE.search(sql), sql
    for sql in (
        'await conn.execute("SET LOCAL statement_timeout = 100")',
        "SELECT pg_advisory_xact_lock($1)",
        "UPDATE rate_limits SET tat = $2 WHERE key = $1",
        "SELECT set_config('x.y', 'z', true)",
        'remedies.append(f"set RELINK_DB_POOL_MAX_SIZE to {largest_pool} or less")',
    ):
        assert not SESSION_STATE.search(sql), sql
