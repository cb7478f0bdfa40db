"""The deployment files pass their linters, installed by ``scripts/install dev``:
deploy/compose.yaml validates against the Compose Specification's JSON schema (the copy
check-jsonschema vendors from the compose-spec project, ``vendor.compose-spec``), and the
Dockerfile passes hadolint with its default rules. No container engine is needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TIMEOUT_SECONDS = 60


def linter(name: str) -> Path:
    """The venv's executable ``name``; fails (never skips) when it is not installed."""
    executable = BIN / name
    if not executable.exists():
        pytest.fail(f"{name} is not installed: run `scripts/install dev`")
    return executable


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
        env={"NO_COLOR": "1", "PATH": str(BIN)},
    )


def test_the_compose_file_follows_the_compose_specification() -> None:
    result = run(
        str(linter("check-jsonschema")),
        "--builtin-schema",
        "vendor.compose-spec",
        "deploy/compose.yaml",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dockerfile_passes_hadolint() -> None:
    result = run(str(linter("hadolint")), "--no-color", "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr
