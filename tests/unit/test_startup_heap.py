"""A serving process freezes its start-up heap, so full collections do not walk it."""

from __future__ import annotations

import gc
import socket
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from relink_api import server
from relink_api.serving.heap import settle_startup_heap
from tests.conftest import make_settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_serving_starts_with_the_heap_frozen(
    unfrozen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen_when_served: list[int] = []

    def run(self: uvicorn.Server, sockets: Any = None) -> None:
        frozen_when_served.append(gc.get_freeze_count())

    monkeypatch.setattr(uvicorn.Server, "run", run)
    settings = make_settings("postgresql://unused/unused")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        server.serve(FastAPI(), settings, sock)

    assert len(frozen_when_served) == 1
    assert frozen_when_served[0] > 1000


def test_garbage_is_collected_not_frozen(unfrozen: None) -> None:
    dropped = weakref.ref(_Cycle())

    settle_startup_heap()

    assert dropped() is None
    assert gc.get_freeze_count() > 0
