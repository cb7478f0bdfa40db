"""JSON documents the database stores as they arrived."""

from __future__ import annotations

import json
from typing import Any


class ReceivedDocument(dict[str, Any]):
    """A JSON object parsed from ``text``, which is also what the database stores for it:
    the pool's json and jsonb codec sends ``text`` instead of encoding the object again
    (a Stripe event's payload, stored exactly as Stripe wrote it). Never mutated after it
    is made: a changed document is a plain dict."""

    __slots__ = ("text",)

    def __init__(self, text: str, parsed: dict[str, Any]) -> None:
        super().__init__(parsed)
        self.text = text


def encode_json(value: object) -> str:
    """The pool's encoder for json and jsonb parameters."""
    if isinstance(value, ReceivedDocument):
        return value.text
    return json.dumps(value)
