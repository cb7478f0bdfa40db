"""Running the generators and compilers of tests/sdk, and reading what they print."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# RELINK_SDK_DOCUMENT points the tests at another document (an older one, to see them fail).
DOCUMENT = Path(os.environ.get("RELINK_SDK_DOCUMENT", ROOT / "openapi" / "openapi.json"))
PYTHON_SDK = ROOT / "sdk" / "python"
TYPESCRIPT_SDK = ROOT / "sdk" / "typescript"
VENV_BIN = Path(sys.executable).parent
TOOL_TIMEOUT_SECONDS = 120
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def tool_env(**extra: str) -> dict[str, str]:
    # No colours, so that warnings can be searched for.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "RELINK_"))}
    env.update(NO_COLOR="1", FORCE_COLOR="0", **extra)
    return env


@dataclass(frozen=True, slots=True)
class Ran:
    returncode: int
    # stdout and stderr together, without colour codes.
    output: str


def run_tool(command: list[str | Path], cwd: Path, **extra_env: str) -> Ran:
    """Run a generator or compiler, whatever its exit code."""
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=tool_env(**extra_env),
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_SECONDS,
        check=False,
    )
    return Ran(done.returncode, ANSI.sub("", done.stdout + done.stderr))


def run_ok(command: list[str | Path], cwd: Path, **extra_env: str) -> str:
    """Run a generator or compiler; fail the test with its output unless it succeeds."""
    ran = run_tool(command, cwd, **extra_env)
    shown = " ".join(str(part) for part in command)
    assert ran.returncode == 0, f"{shown} failed ({ran.returncode}):\n{ran.output}"
    return ran.output


def mypy(files: list[Path], client: Path) -> Ran:
    """mypy --strict on files that import the generated package in ``client``. The package's
    own template quirks are the generator's business (follow-imports=silent); a document that
    leaves a type untyped shows up as an error in the files."""
    return run_tool(
        [
            VENV_BIN / "mypy",
            "--strict",
            "--follow-imports=silent",
            "--no-incremental",
            "--cache-dir",
            os.devnull,
            "--show-column-numbers",
            *files,
        ],
        cwd=client,
        MYPYPATH=str(client),
    )


def tsc(workspace: Path, project: str) -> Ran:
    """tsc on one tsconfig of the TypeScript workspace, one error per line's start."""
    return run_tool(
        [workspace / "node_modules" / ".bin" / "tsc", "-p", project, "--pretty", "false"],
        cwd=workspace,
    )
