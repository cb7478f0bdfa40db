"""Bounded fan-out of Stripe reads."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


async def gather_limited(
    items: Sequence[T], worker: Callable[[T], Awaitable[Any]], *, limit: int
) -> list[Any]:
    """Run ``worker`` over ``items`` with at most ``limit`` in flight (Stripe's rate limit)."""
    semaphore = asyncio.Semaphore(limit)

    async def one(item: T) -> Any:
        async with semaphore:
            return await worker(item)

    return list(await asyncio.gather(*(one(item) for item in items)))
