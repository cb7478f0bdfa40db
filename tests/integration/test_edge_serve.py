"""``relink-api serve`` checks where it will listen before it starts anything: a port out
of range or already taken is one sentence, and nothing (least of all the sandbox's token
and admin key) is printed first."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Before the fix a busy port was found only after the embedded PostgreSQL had started.
EXIT_SECONDS = 60


def _sandbox_env(data_dir: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("STRIPE_", "RELINK_")) and name != "DATABASE_URL"
    }
    env.update({"RELINK_SANDBOX": "true", "RELINK_DATA_DIR": str(data_dir)})
    return env


def _serve(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relink_api", "serve", *args],
        cwd=ROOT,
        env=_sandbox_env(data_dir),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=EXIT_SECONDS,
        check=False,
    )


def test_a_busy_port_stops_serve_before_anything_is_printed(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = _serve(tmp_path / "data", "--port", str(port))

    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert result.stderr.strip() == (
        f"Error: Port {port} on 127.0.0.1 is already in use; stop what listens there or "
        "choose another port with --port or RELINK_PORT."
    )
    assert "#token=" not in output
    assert "rk_admin_" not in output
    assert "relink-api on http" not in output
    assert not (tmp_path / "data" / "pg").exists()  # nor was PostgreSQL started


def test_a_port_out_of_range_is_refused_like_relink_port(tmp_path: Path) -> None:
    result = _serve(tmp_path / "data", "--port", "99999")

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Invalid value for '--port': 99999 is not in the range 1<=x<=65535." in result.stderr
    assert not (tmp_path / "data").exists()
