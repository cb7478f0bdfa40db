"""The committed OpenAPI document passes Redocly CLI's ``recommended`` ruleset and Spectral's
``spectral:oas`` with no error and no warning: generators that lint a document first accept
it. Both run from the pinned npm package in openapi/lint with its configuration
(redocly.yaml, .spectral.yaml), where a rule turned off or down says why; the few problems
Redocly is told to ignore (.redocly.lint-ignore.yaml) say why too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = ROOT / "openapi" / "lint"
DOCUMENT = ROOT / "openapi" / "openapi.json"
INSTALL = "scripts/install dev"
REDOCLY_IGNORED = LINT / ".redocly.lint-ignore.yaml"
# Colour codes and Redocly's usage data and update check stay out of a test run.
ENVIRONMENT = {
    "NO_COLOR": "1",
    "FORCE_COLOR": "0",
    "REDOCLY_TELEMETRY": "off",
    "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
}
TIMEOUT_SECONDS = 120


def linter(name: str) -> Path:
    """openapi/lint's executable ``name``; fails (never skips) when it is not installed as
    the lock says."""
    executable = LINT / "node_modules" / ".bin" / name
    if shutil.which("node") is None or not executable.exists():
        pytest.fail(
            f"{name} is not installed: run `{INSTALL}` (it runs `npm ci` in openapi/lint; "
            "needs node and npm)"
        )
    stamp = LINT / "node_modules" / ".installed-from-lock"
    lock = LINT / "package-lock.json"
    if not stamp.is_file() or stamp.read_bytes() != lock.read_bytes():
        pytest.fail(f"openapi/lint/node_modules is not installed from its lock: run `{INSTALL}`")
    return executable


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=LINT,
        env={**os.environ, **ENVIRONMENT},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )


def report(result: subprocess.CompletedProcess[str], answer: str) -> Any:
    """The linter's JSON answer; fails with everything it printed when there is none."""
    try:
        return json.loads(answer)
    except json.JSONDecodeError:
        pytest.fail(
            f"{result.args[0]} exited {result.returncode} without a JSON report:\n"
            f"{result.stdout}\n{result.stderr}"
        )


def fail_with(
    linter_name: str, problems: list[str], result: subprocess.CompletedProcess[str]
) -> None:
    pytest.fail(
        f"{linter_name} on openapi/openapi.json (exit {result.returncode}): "
        f"{len(problems)} problem(s)\n" + "\n".join(problems) + f"\n{result.stderr}"
    )


def test_redocly_recommended_reports_nothing() -> None:
    result = run(
        [str(linter("redocly")), "lint", "--config=redocly.yaml", "--format=json", str(DOCUMENT)]
    )
    answer = report(result, result.stdout)
    problems = [
        f"{problem['severity']} {problem['ruleId']} at "
        f"{problem['location'][0]['pointer']}: {problem['message']}"
        for problem in answer["problems"]
    ]
    if problems or result.returncode != 0:
        fail_with("redocly lint", problems, result)
    # One `- '<pointer>'` line per ignored problem, the form --generate-ignore-file writes.
    entries = [
        line for line in REDOCLY_IGNORED.read_text().splitlines() if line.strip().startswith("- ")
    ]
    assert answer["totals"]["ignored"] >= len(entries), (
        f"{REDOCLY_IGNORED.name} lists {len(entries)} problem(s) but Redocly ignored "
        f"{answer['totals']['ignored']}: remove the entries that match nothing now"
    )


SPECTRAL_SEVERITY = ("error", "warn", "info", "hint")


def test_spectral_oas_reports_nothing(tmp_path: Path) -> None:
    # Spectral prints a sentence after its JSON on stdout: the JSON goes to a file.
    output = tmp_path / "spectral.json"
    result = run(
        [
            str(linter("spectral")),
            "lint",
            "--ruleset=.spectral.yaml",
            "--format=json",
            "--fail-severity=hint",
            f"--output={output}",
            str(DOCUMENT),
        ]
    )
    answer = report(result, output.read_text() if output.exists() else "")
    problems = [
        f"{SPECTRAL_SEVERITY[finding['severity']]} {finding['code']} at "
        f"/{'/'.join(map(str, finding['path']))}: {finding['message']}"
        for finding in answer
    ]
    if problems or result.returncode != 0:
        fail_with("spectral lint", problems, result)
