"""Only a payload that could hold a secret is walked by ``without_secrets``: a name it drops
is spelled out in the raw JSON unless a ``\\u`` escape hides it, so every other event skips
the walk (a copy of the whole document, per delivery), and none of them keeps a secret."""

from __future__ import annotations

import json

import pytest

from relink_api.webhooks import service
from relink_api.webhooks.service import parse_event

RETURN = "https://relink.example.com/relink/return?session=rls_1&state=tok3n"


def body(document: dict[str, object]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def document_of(obj: dict[str, object]) -> dict[str, object]:
    return {"id": "evt_1", "type": "x.updated", "created": 1, "data": {"object": obj}}


def test_a_payload_without_a_secret_is_not_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    walked: list[object] = []

    def walk(value: object) -> object:
        walked.append(value)
        return value

    monkeypatch.setattr(service, "without_secrets", walk)
    document = document_of({"id": "fca_1", "display_name": "Everyday statement=1"})

    assert parse_event(body(document))[1] == document
    assert walked == []


@pytest.mark.parametrize(
    "raw",
    [
        body(document_of({"id": "fcsess_1", "client_secret": "fcsess_1_secret_abc"})),
        body(document_of({"id": "fcsess_1", "return_url": RETURN})),
        # The same, spelled with escapes only the decoded document shows.
        body(document_of({"id": "fcsess_1"})).replace(
            b'"id":"fcsess_1"', b'"id":"fcsess_1","client\\u005fsecret":"fcsess_1_secret_abc"'
        ),
        body(document_of({"id": "fcsess_1"})).replace(
            b'"id":"fcsess_1"',
            b'"id":"fcsess_1","url":"' + RETURN.replace("=", "\\u003d").encode() + b'"',
        ),
    ],
)
def test_a_payload_that_could_hold_one_is_cleaned(raw: bytes) -> None:
    _, document = parse_event(raw)

    text = json.dumps(document)
    assert "secret_abc" not in text
    assert "tok3n" not in text
