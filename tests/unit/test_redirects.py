"""Return URLs: exact origins and app schemes only."""

from __future__ import annotations

import pytest

from relink_api.redirects import (
    InvalidAllowlistEntry,
    is_allowed_return_url,
    normalize_allowlist_entry,
)

ALLOWLIST = ["https://app.example.com", "https://localhost:8443", "exampleapp://"]


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example.com",
        "https://app.example.com/relink/done?x=1",
        "https://APP.example.com/relink",
        "https://localhost:8443/back",
        "exampleapp://relink/done",
    ],
)
def test_allowed(url: str) -> None:
    assert is_allowed_return_url(url, ALLOWLIST)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example",
        "https://app.example.com.evil.example/",
        "https://app.example.com@evil.example/",
        "https://user:pass@app.example.com/",
        "http://app.example.com/",
        "https://app.example.com:444/",
        "https://localhost/back",
        "//evil.example/back",
        "/relative/path",
        "javascript:alert(1)",
        "JavaScript://app.example.com/%0aalert(1)",
        "data:text/html,<script>",
        "exampleapp:relink",
        "otherapp://relink",
        "https://app.example.com\\@evil.example",
        "https://app.example.com/\nLocation: https://evil.example",
        " https://app.example.com",
        "",
        "https://app.example.com/" + "a" * 2048,
    ],
)
def test_refused(url: str) -> None:
    assert not is_allowed_return_url(url, ALLOWLIST)


@pytest.mark.parametrize(
    ("entry", "normalized"),
    [
        ("https://App.Example.com/", "https://app.example.com"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("MyApp://", "myapp://"),
    ],
)
def test_allowlist_entries_are_normalized(entry: str, normalized: str) -> None:
    assert normalize_allowlist_entry(entry) == normalized


@pytest.mark.parametrize(
    "entry",
    ["https://app.example.com/path", "app.example.com", "javascript://", "https://", "https://a@b"],
)
def test_bad_allowlist_entries_are_refused(entry: str) -> None:
    with pytest.raises(InvalidAllowlistEntry):
        normalize_allowlist_entry(entry)
