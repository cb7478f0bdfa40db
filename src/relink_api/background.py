"""Tasks that run beside the server for as long as its lifespan lasts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from typing import Any


def run_in_background(
    stack: AsyncExitStack, coroutine: Coroutine[Any, Any, None], *, name: str
) -> None:
    """Run ``coroutine`` as a task until ``stack`` closes; then cancel it and wait for it,
    so nothing it holds outlives what the stack releases after."""
    task = asyncio.create_task(coroutine, name=name)

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)
