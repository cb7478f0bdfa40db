"""Every module imports on its own, first: an import cycle shows only when one particular
module is imported before the others (a command that imports the webhook service first,
say), which the rest of the suite, importing the app first, never does. Checked in a
process of its own, so that re-importing leaves this one untouched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "relink_api"
MODULES = sorted(
    ".".join(("relink_api", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(
        ".__init__"
    )
    for path in PACKAGE.rglob("*.py")
    if path.name != "__main__.py"  # runs the command line when imported
)
# For each module: forget every relink_api module, then import it first.
CHECK = """
import importlib, sys
failures = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "relink_api" or m.startswith("relink_api.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except ImportError as exc:
        failures.append(f"{name}: {exc}")
print("\\n".join(failures))
"""


def test_every_module_imports_first() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK, *MODULES], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    if result.stdout.strip():
        pytest.fail(result.stdout, pytrace=False)
