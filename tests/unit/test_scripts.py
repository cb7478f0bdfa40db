"""scripts/prerequisites: what the test suite needs beyond Python is installed where it can
be, and otherwise named in one sentence."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "prerequisites"


def _run(path: Path) -> subprocess.CompletedProcess[str]:
    # Only `path` on PATH: no apt-get and no sudo, so nothing can be installed.
    return subprocess.run(
        ["/bin/sh", str(SCRIPT)],
        env={"PATH": str(path), "HOME": os.environ.get("HOME", "/")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _fake(bin_dir: Path, name: str, output: str = "") -> None:
    tool = bin_dir / name
    tool.write_text(f"#!/bin/sh\necho {output}\n" if output else "#!/bin/sh\n")
    tool.chmod(0o755)


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    path = tmp_path / "bin"
    path.mkdir()
    return path


def _one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="names Chromium too")
def test_without_node_and_npm_it_says_so_in_one_sentence(bin_dir: Path) -> None:
    sentence = _one_sentence(_run(bin_dir))

    assert sentence == (
        "scripts/prerequisites: the tests need Node.js 20.19 or later with npm (for "
        "tests/sdk; found no Node.js and no npm), and installing needs apt-get, as root or "
        "through sudo -n; install what is missing and run this again."
    )


@pytest.mark.parametrize(
    ("version", "npm", "found"),
    [
        ("18.19.0", True, "found Node.js 18.19.0)"),
        ("20.18.3", True, "found Node.js 20.18.3)"),
        ("20.19.0", False, "found Node.js 20.19.0 and no npm)"),
    ],
)
def test_an_old_node_or_a_missing_npm_is_named(
    bin_dir: Path, version: str, npm: bool, found: str
) -> None:
    _fake(bin_dir, "node", version)
    if npm:
        _fake(bin_dir, "npm")

    sentence = _one_sentence(_run(bin_dir))

    assert "Node.js 20.19 or later with npm" in sentence
    assert found in sentence


@pytest.mark.parametrize("version", ["20.19.0", "22.1.0", "24.0.0"])
def test_a_recent_enough_node_with_npm_passes(bin_dir: Path, version: str) -> None:
    _fake(bin_dir, "node", version)
    _fake(bin_dir, "npm")

    result = _run(bin_dir)

    if Path("/usr/bin/chromium").exists():
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
    else:
        assert "Chromium at /usr/bin/chromium" in _one_sentence(result)
        assert "Node.js" not in result.stderr
