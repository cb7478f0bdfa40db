"""What a file that must not compile expects, and what the compiler said about it.

A file in sdk/python/must_not_typecheck or sdk/typescript/must-not-compile marks each line
that must fail with a comment just above it::

    # expect error at TOKEN: FRAGMENT        (or // in TypeScript)

The compiler must report an error at that line, in the column where TOKEN starts, whose
message contains FRAGMENT; and nothing else in the file. So a file that fails for an
unrelated reason (a missing import, a renamed type) does not pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MARKER = re.compile(r"^\s*(?:#|//) expect error at (?P<token>\S+): (?P<fragment>.+)$")
# tsc --pretty false: `path(line,col): error TS2322: message`, the message's further lines
# indented below it.
TSC_ERROR = re.compile(r"^(?P<path>\S.*?)\((?P<line>\d+),(?P<column>\d+)\): error (?P<text>.*)$")
# mypy --show-column-numbers: `path:line:col: error: message  [code]`.
MYPY_ERROR = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<column>\d+): error: (?P<text>.*)$")


@dataclass(frozen=True, slots=True)
class Located:
    path: Path
    line: int
    column: int
    text: str


def expected_errors(path: Path) -> list[Located]:
    """The errors a must-not-compile file marks, each with the fragment its message holds."""
    lines = path.read_text(encoding="utf-8").splitlines()
    expected = []
    for number, line in enumerate(lines, start=1):
        marked = MARKER.match(line)
        if marked is None:
            continue
        target = lines[number] if number < len(lines) else ""
        token = marked["token"]
        assert token in target, f"{path}:{number + 1} has no {token!r} to point at"
        expected.append(Located(path, number + 1, target.index(token) + 1, marked["fragment"]))
    assert expected, f"{path} marks no line that must fail"
    return expected


def reported_errors(output: str, cwd: Path, pattern: re.Pattern[str]) -> list[Located]:
    """The errors in a compiler's output, each with its whole message."""
    errors: list[Located] = []
    for line in output.splitlines():
        found = pattern.match(line)
        if found is not None:
            path = (cwd / found["path"]).resolve()
            errors.append(Located(path, int(found["line"]), int(found["column"]), found["text"]))
        elif line.startswith(" ") and errors:
            last = errors[-1]
            errors[-1] = Located(last.path, last.line, last.column, f"{last.text}\n{line}")
    return errors


def mismatches(path: Path, reported: list[Located]) -> list[str]:
    """How the compiler's errors in ``path`` differ from what the file marks: empty when
    each marked line fails as marked and nothing else does."""
    expected = expected_errors(path)
    mine = [error for error in reported if error.path == path.resolve()]
    problems = [
        f"line {want.line}, column {want.column}: expected an error containing "
        f"{want.text!r}; got {[(e.line, e.column, e.text) for e in mine if e.line == want.line]}"
        for want in expected
        if not any(
            (error.line, error.column) == (want.line, want.column) and want.text in error.text
            for error in mine
        )
    ]
    marked_lines = {want.line for want in expected}
    problems += [
        f"unexpected error at line {error.line}, column {error.column}: {error.text}"
        for error in mine
        if error.line not in marked_lines
    ]
    return problems
