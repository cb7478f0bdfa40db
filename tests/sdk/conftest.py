"""The generated clients, generated once per run from the document and shared by the tests
of tests/sdk: a Python package (openapi-python-client), and a TypeScript workspace with the
@hey-api/openapi-ts client in client/ and openapi-typescript's types in fetch-client/."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sdk.tools import (
    DOCUMENT,
    PYTHON_SDK,
    TYPESCRIPT_SDK,
    VENV_BIN,
    mypy,
    run_ok,
    tsc,
)

# What each project compiles: its flow and the code the contract must let a client write.
PYTHON_MUST_TYPECHECK = (PYTHON_SDK / "flow.py", PYTHON_SDK / "must_typecheck.py")
HEY_API_PROJECT = "tsconfig.json"
OPENAPI_TYPESCRIPT_PROJECT = "tsconfig.fetch.json"


@dataclass(frozen=True, slots=True)
class Generated:
    # The folder to put on PYTHONPATH, or the TypeScript workspace.
    folder: Path
    # What the generator printed.
    output: str


@pytest.fixture(scope="session")
def python_client(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """The generated package ``relink_api_client``."""
    out = tmp_path_factory.mktemp("python-client")
    output = run_ok(
        [
            VENV_BIN / "openapi-python-client",
            "generate",
            "--path",
            DOCUMENT,
            "--meta",
            "none",
            "--config",
            PYTHON_SDK / "config.yaml",
            "--output-path",
            out / "relink_api_client",
            "--fail-on-warning",
        ],
        cwd=out,
    )
    return Generated(out, output)


@pytest.fixture(scope="session")
def python_typechecked(python_client: Generated) -> Generated:
    """The flow and must_typecheck.py, through the generated package, pass mypy --strict;
    returns the PYTHONPATH folder and mypy's verdict."""
    typed = mypy(list(PYTHON_MUST_TYPECHECK), python_client.folder)
    assert typed.returncode == 0, typed.output
    return Generated(python_client.folder, typed.output)


@pytest.fixture(scope="session")
def typescript_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of sdk/typescript (without anything generated) using its node_modules."""
    node_modules = TYPESCRIPT_SDK / "node_modules"
    tools = ("openapi-ts", "openapi-typescript", "tsc")
    if shutil.which("node") is None or not all(
        (node_modules / ".bin" / tool).exists() for tool in tools
    ):
        pytest.fail(
            "the TypeScript generators are not installed: run scripts/install dev "
            "(it runs `npm ci` in sdk/typescript; needs node and npm)"
        )
    work = tmp_path_factory.mktemp("typescript") / "workspace"
    shutil.copytree(
        TYPESCRIPT_SDK,
        work,
        ignore=shutil.ignore_patterns("node_modules", "client", "fetch-client", "dist"),
    )
    (work / "node_modules").symlink_to(node_modules, target_is_directory=True)
    return work


@pytest.fixture(scope="session")
def hey_api_client(typescript_workspace: Path) -> Generated:
    """@hey-api/openapi-ts's client, in the workspace's client/."""
    work = typescript_workspace
    output = run_ok(
        [work / "node_modules" / ".bin" / "openapi-ts", "-f", "openapi-ts.config.mjs"],
        cwd=work,
        RELINK_OPENAPI=str(DOCUMENT),
        RELINK_TS_CLIENT_DIR=str(work / "client"),
    )
    assert (work / "client" / "sdk.gen.ts").exists(), output
    return Generated(work, output)


@pytest.fixture(scope="session")
def openapi_typescript_client(typescript_workspace: Path) -> Generated:
    """openapi-typescript's types, with its default options, in fetch-client/schema.ts."""
    work = typescript_workspace
    schema = work / "fetch-client" / "schema.ts"
    output = run_ok(
        [work / "node_modules" / ".bin" / "openapi-typescript", DOCUMENT, "--output", schema],
        cwd=work,
    )
    assert schema.exists(), output
    return Generated(work, output)


def compiled(workspace: Path, project: str) -> Path:
    built = tsc(workspace, project)
    assert built.returncode == 0, f"tsc -p {project} failed:\n{built.output}"
    return workspace / "dist"


@pytest.fixture(scope="session")
def hey_api_compiled(hey_api_client: Generated) -> Path:
    """flow.ts and must-compile/hey-api.ts, compiled with tsc in strict mode; returns dist/."""
    return compiled(hey_api_client.folder, HEY_API_PROJECT)


@pytest.fixture(scope="session")
def openapi_typescript_compiled(openapi_typescript_client: Generated) -> Path:
    """fetch-flow.ts and must-compile/openapi-typescript.ts, compiled with tsc in strict mode;
    returns dist/."""
    return compiled(openapi_typescript_client.folder, OPENAPI_TYPESCRIPT_PROJECT)
