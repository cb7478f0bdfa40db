"""Which parsed events keep the bytes they came in for the database to store."""

from __future__ import annotations

import json

from relink_api.db.documents import ReceivedDocument, encode_json
from relink_api.webhooks.service import parse_event

EVENT = {"id": "evt_1", "object": "event", "type": "customer.created", "created": 1}


def test_a_utf8_event_with_nothing_to_remove_keeps_its_bytes() -> None:
    body = b'{"id":"evt_1", "object":"event","type":"customer.created","created":1.0e0}'
    _, document = parse_event(body)
    assert isinstance(document, ReceivedDocument)
    assert encode_json(document) == body.decode()
    assert encode_json({"a": 1}) == '{"a": 1}'


def test_other_encodings_and_lone_surrogates_are_encoded_again() -> None:
    utf16 = json.dumps(EVENT).encode("utf-16-le")
    assert utf16.startswith(b"{")
    lone_surrogate = json.dumps({**EVENT, "note": "x"}).encode().replace(b'"x"', b'"\xed\xa0\x80"')
    for body in (utf16, lone_surrogate):
        _, document = parse_event(body)
        assert not isinstance(document, ReceivedDocument)
        assert encode_json(document) == json.dumps(document)
