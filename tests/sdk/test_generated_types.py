"""What each generator's types make of the create-relink-session contract (issue 13).

With every generator tests/sdk uses, the minimal body `{account_id}` compiles, and a modal
answer's `client_secret` and a hosted `url` answer's `url` are `string` once the answer is
told apart (sdk/python/must_typecheck.py, sdk/typescript/must-compile/). A hosted create
without `delivery`, a modal one with a `delivery`, and reading either from an answer not told
apart do not compile, each failing where and as its file says (sdk/python/must_not_typecheck/,
sdk/typescript/must-not-compile/, read by compile_errors.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sdk.compile_errors import MYPY_ERROR, TSC_ERROR, mismatches, reported_errors
from tests.sdk.conftest import PYTHON_MUST_TYPECHECK, Generated
from tests.sdk.tools import PYTHON_SDK, Ran, mypy, tsc

# What must not compile, in every generator's types.
MISTAKES = ("hosted without delivery", "modal with delivery", "answer without narrowing")
TYPESCRIPT_GENERATORS = ("hey-api", "openapi-typescript")


def test_the_python_client_types_the_minimal_body_and_told_apart_answers(
    python_typechecked: Generated,
) -> None:
    assert PYTHON_SDK / "must_typecheck.py" in PYTHON_MUST_TYPECHECK
    verdict = f"Success: no issues found in {len(PYTHON_MUST_TYPECHECK)} source files"
    assert verdict in python_typechecked.output


@pytest.mark.parametrize(
    ("compiled", "generator"),
    [("hey_api_compiled", "hey-api"), ("openapi_typescript_compiled", "openapi-typescript")],
)
def test_the_typescript_types_take_the_minimal_body_and_tell_answers_apart(
    compiled: str, generator: str, request: pytest.FixtureRequest
) -> None:
    dist: Path = request.getfixturevalue(compiled)
    emitted = (dist / "must-compile" / f"{generator}.js").read_text(encoding="utf-8")
    assert "export async function clientSecretFor" in emitted
    assert "export async function pageFor" in emitted


def python_mistake(mistake: str) -> Path:
    return PYTHON_SDK / "must_not_typecheck" / f"{mistake.replace(' ', '_')}.py"


def typescript_mistake(workspace: Path, generator: str, mistake: str) -> Path:
    return workspace / "must-not-compile" / generator / f"{mistake.replace(' ', '-')}.ts"


@pytest.fixture(scope="session")
def python_refusals(python_client: Generated) -> Ran:
    """mypy --strict on every must_not_typecheck file at once."""
    return mypy([python_mistake(mistake) for mistake in MISTAKES], python_client.folder)


def typescript_refusals(generated: Generated, generator: str) -> Ran:
    """tsc on every must-not-compile file of one generator at once."""
    project = f"tsconfig.must-not-compile.{generator}.json"
    config = {
        "extends": "./tsconfig.json",
        "compilerOptions": {"noEmit": True},
        "files": [str(typescript_mistake(Path(), generator, mistake)) for mistake in MISTAKES],
    }
    (generated.folder / project).write_text(json.dumps(config), encoding="utf-8")
    return tsc(generated.folder, project)


@pytest.fixture(scope="session")
def hey_api_refusals(hey_api_client: Generated) -> Ran:
    return typescript_refusals(hey_api_client, "hey-api")


@pytest.fixture(scope="session")
def openapi_typescript_refusals(openapi_typescript_client: Generated) -> Ran:
    return typescript_refusals(openapi_typescript_client, "openapi-typescript")


@pytest.mark.parametrize("mistake", MISTAKES)
def test_mypy_refuses_with_the_python_client(mistake: str, python_refusals: Ran) -> None:
    path = python_mistake(mistake)
    assert python_refusals.returncode != 0, python_refusals.output
    problems = mismatches(path, reported_errors(python_refusals.output, path.parent, MYPY_ERROR))
    assert not problems, "\n".join([*problems, python_refusals.output])


@pytest.mark.parametrize("mistake", MISTAKES)
@pytest.mark.parametrize("generator", TYPESCRIPT_GENERATORS)
def test_tsc_refuses_with_the_typescript_types(
    generator: str, mistake: str, request: pytest.FixtureRequest
) -> None:
    fixture = generator.replace("-", "_")
    workspace: Generated = request.getfixturevalue(f"{fixture}_client")
    refused: Ran = request.getfixturevalue(f"{fixture}_refusals")
    path = typescript_mistake(workspace.folder, generator, mistake)
    assert refused.returncode != 0, refused.output
    problems = mismatches(path, reported_errors(refused.output, workspace.folder, TSC_ERROR))
    assert not problems, "\n".join([*problems, refused.output])
