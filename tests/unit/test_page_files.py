"""The page's files in static/: small enough to read, loaded as native ES modules only, and
every module imported from a file that is there (and every file imported by something)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "static"
MAX_LINES = 400
# Module statements start a line: `import {a, b} from "./x.js";` (over several lines, too).
_IMPORT_FROM = re.compile(r'^import\b[^;]*?\bfrom\s+"([^"]+)";', re.MULTILINE)
_IMPORT_BARE = re.compile(r'^import\s+"([^"]+)";', re.MULTILINE)


class _Scripts(HTMLParser):
    """Each <script>'s attributes, and whether it has a body of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts.append(dict(attrs))
            self._in_script = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data.strip())


def _index_scripts() -> _Scripts:
    parser = _Scripts()
    parser.feed((STATIC / "index.html").read_text())
    parser.close()
    return parser


def _imports(module: Path) -> list[str]:
    text = module.read_text()
    return _IMPORT_FROM.findall(text) + _IMPORT_BARE.findall(text)


def test_no_file_in_static_is_over_400_lines() -> None:
    files = sorted(path for path in STATIC.rglob("*") if path.is_file())
    assert files
    too_long = {
        str(path.relative_to(STATIC)): count
        for path in files
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not too_long, f"over {MAX_LINES} lines: {too_long}"


def test_index_loads_only_module_scripts_from_static() -> None:
    parsed = _index_scripts()

    assert parsed.scripts, "index.html loads no script"
    for attrs in parsed.scripts:
        assert attrs.get("type") == "module", f"not a module script: {attrs}"
        assert (attrs.get("src") or "").startswith("/static/"), f"not a file in static/: {attrs}"
    assert not parsed.inline, "index.html has an inline script"


def test_every_module_is_imported_and_every_import_is_a_file_in_static() -> None:
    entries = [
        STATIC / str(attrs["src"]).removeprefix("/static/") for attrs in _index_scripts().scripts
    ]
    reached: set[Path] = set()
    pending = list(entries)
    while pending:
        module = pending.pop()
        if module in reached:
            continue
        assert module.is_file(), f"{module.name} is loaded but not in static/"
        reached.add(module)
        for specifier in _imports(module):
            # Relative, with its extension: what a browser resolves without an import map.
            assert specifier.startswith("./"), f"{module.name} imports {specifier!r}"
            assert specifier.endswith(".js"), f"{module.name} imports {specifier!r}"
            pending.append((module.parent / specifier).resolve())

    assert reached == set(STATIC.rglob("*.js")), "modules nothing imports: " + ", ".join(
        sorted(path.name for path in set(STATIC.rglob("*.js")) - reached)
    )


def test_modules_import_each_other_without_cycles() -> None:
    graph = {
        module.name: [specifier.removeprefix("./") for specifier in _imports(module)]
        for module in STATIC.glob("*.js")
    }
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, "import cycle: " + " → ".join((*path, name))
        if name in done:
            return
        for imported in graph.get(name, []):
            visit(imported, (*path, name))
        done.add(name)

    for name in sorted(graph):
        visit(name, ())
