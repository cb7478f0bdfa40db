"""The image installs only what its locks name, each file checked against a hash: every
runtime dependency of pyproject.toml (and the build backend) is pinned exactly, within
pyproject's range, with at least one sha256; and the Dockerfile installs each lock with
``--require-hashes --no-deps``, and relink-api itself with ``--no-deps``. After a change to
pyproject.toml's dependencies, ``scripts/lock`` brings the locks up to date."""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
IMAGE_LOCK = "requirements/image.txt"
BUILD_LOCK = "requirements/build.txt"
RELOCK = "run scripts/lock and commit requirements/"
_HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Pin:
    requirement: Requirement
    hashes: list[str]

    @property
    def version(self) -> Version | None:
        """The exact version pinned (``==``), or None when the line pins nothing."""
        specifiers = list(self.requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != "==" or "*" in specifiers[0].version:
            return None
        return Version(specifiers[0].version)


def read_lock(relative: str) -> dict[NormalizedName, Pin]:
    """A pip requirements file with hashes, by normalized project name."""
    path = ROOT / relative
    if not path.exists():
        pytest.fail(f"{relative} is missing: {RELOCK}")
    text = re.sub(r"\\\n", " ", path.read_text())
    pins: dict[NormalizedName, Pin] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        words = shlex.split(line)
        requirement = Requirement(words[0])
        name = canonicalize_name(requirement.name)
        assert name not in pins, f"{relative} names {name} twice"
        pins[name] = Pin(requirement, [word for word in words[1:] if word.startswith("--hash")])
    return pins


def pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def unsatisfied(requirements: list[str], pins: dict[NormalizedName, Pin]) -> list[str]:
    """What the lock does not satisfy: missing, not pinned ``==``, or outside the range."""
    problems: list[str] = []
    for text in requirements:
        wanted = Requirement(text)
        pin = pins.get(canonicalize_name(wanted.name))
        if pin is None:
            problems.append(f"{wanted.name} is not in the lock")
        elif pin.version is None:
            problems.append(f"{pin.requirement} is not an exact pin")
        elif not wanted.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{pin.requirement} does not satisfy {wanted}")
    return problems


def test_every_runtime_dependency_is_pinned_within_its_range() -> None:
    dependencies = pyproject()["project"]["dependencies"]
    assert unsatisfied(dependencies, read_lock(IMAGE_LOCK)) == [], RELOCK


def test_the_build_backend_is_pinned_within_its_range() -> None:
    backend = pyproject()["build-system"]["requires"]
    assert unsatisfied(backend, read_lock(BUILD_LOCK)) == [], RELOCK


@pytest.mark.parametrize("relative", [IMAGE_LOCK, BUILD_LOCK])
def test_every_locked_package_has_an_exact_pin_and_a_sha256(relative: str) -> None:
    pins = read_lock(relative)
    assert pins, f"{relative} locks nothing"
    loose = [str(pin.requirement) for pin in pins.values() if pin.version is None]
    unhashed = [str(pin.requirement) for pin in pins.values() if not pin.hashes]
    malformed = [h for pin in pins.values() for h in pin.hashes if not _HASH.match(h)]
    # Markers would make the lock depend on where it is installed; it is for one platform.
    with_markers = [str(pin.requirement) for pin in pins.values() if pin.requirement.marker]
    assert (loose, unhashed, malformed, with_markers) == ([], [], [], []), RELOCK


def dockerfile_runs() -> list[list[str]]:
    """The Dockerfile's RUN instructions, continuation lines joined, each split into its
    shell commands' words."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    commands: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("RUN "):
            for command in re.split(r"&&|;", line[4:]):
                commands.append(shlex.split(command))
    return commands


def pip_commands(verb: str) -> list[list[str]]:
    return [words for words in dockerfile_runs() if words[:2] == ["pip", verb]]


def test_the_dockerfile_installs_each_lock_with_require_hashes() -> None:
    installs = pip_commands("install")
    locks_installed = {words[words.index("-r") + 1] for words in installs if "-r" in words}
    # The image lock is copied under another name; what matters is which file it came from.
    copied = re.findall(r"^COPY (\S+) (\S+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    sources = {target: source for source, target in copied}
    assert {sources.get(path, path) for path in locks_installed} == {IMAGE_LOCK, BUILD_LOCK}
    for words in installs:
        if "-r" in words:
            assert "--require-hashes" in words, shlex.join(words)


def test_nothing_in_the_dockerfile_installs_dependencies_of_its_own() -> None:
    installs = pip_commands("install")
    wheels = pip_commands("wheel")
    assert installs
    assert wheels, "relink-api's wheel is built in the Dockerfile"
    for words in [*installs, *wheels]:
        assert "--no-deps" in words, shlex.join(words)
    # An isolated build would fetch the build backend unpinned.
    for words in wheels:
        assert "--no-build-isolation" in words, shlex.join(words)
