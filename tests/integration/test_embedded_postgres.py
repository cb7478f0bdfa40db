"""The embedded PostgreSQL: data survives restarts, and a second process joins the first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import asyncio, sys
from pathlib import Path
import asyncpg
from relink_api.db.embedded import start_embedded_postgres

async def main():
    data_dir = Path(sys.argv[1])
    dsn = await start_embedded_postgres(data_dir)
    conn = await asyncpg.connect(dsn)
    await conn.execute("CREATE TABLE IF NOT EXISTS marks (value text)")
    if sys.argv[2] != "-":
        await conn.execute("INSERT INTO marks VALUES ($1)", sys.argv[2])
    values = [r["value"] for r in await conn.fetch("SELECT value FROM marks ORDER BY value")]
    await conn.close()
    pid = (data_dir / "pg" / "postmaster.pid").read_text().splitlines()[0]
    print("pid", pid, "values", ",".join(values), flush=True)
    if len(sys.argv) > 3:
        sys.stdin.readline()  # hold the server until told to let go

asyncio.run(main())
"""


def _run(data_dir: Path, mark: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(data_dir), mark],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


def test_data_survives_a_restart(tmp_path: Path) -> None:
    first = _run(tmp_path, "one")
    second = _run(tmp_path, "two")
    assert first.endswith("values one")
    assert second.endswith("values one,two")


def test_a_second_process_reuses_the_running_server(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path), "held", "hold"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdin is not None
        try:
            held = holder.stdout.readline()
            joined = _run(tmp_path, "-")
        finally:
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(60)
    assert held.split()[1] == joined.split()[1]
    assert joined.endswith("values held")
