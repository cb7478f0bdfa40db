"""Connections to Stripe, each in a pool of its own, lent out one call at a time.

httpcore's pool looks at every connection it holds (a readability check, a system call, for
each idle one) whenever a call starts or ends, and counts them all again for each idle one:
with a hundred calls in flight that is most of a call's cost. Its default (keep 20 alive)
avoids the scan only by closing connections, so that past 20 calls in flight nearly every
call opens a connection (and, against Stripe, shakes hands over TLS). Here each connection
is an httpx transport limited to one, kept on a free list: a call takes the most recently
used one (or opens one, up to ``most``), and gives it back once its answer is read.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable

import httpx

_ONE = httpx.Limits(max_connections=1, max_keepalive_connections=1)


class _GivenBackWhenRead(httpx.AsyncByteStream):
    """An answer's body; closing it returns its connection to the free list."""

    def __init__(self, stream: httpx.AsyncByteStream, give_back: Callable[[], None]) -> None:
        self._stream = stream
        self._give_back = give_back

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._give_back()


class OneCallPerConnection(httpx.AsyncBaseTransport):
    """At most ``most`` connections, each carrying one call at a time and kept between
    calls; a call past ``most`` waits for a connection to be given back."""

    def __init__(self, *, verify: ssl.SSLContext | bool, most: int) -> None:
        self._verify = verify
        self._free: list[httpx.AsyncHTTPTransport] = []
        self._every: list[httpx.AsyncHTTPTransport] = []
        self._slots = asyncio.Semaphore(most)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._slots.acquire()
        if self._free:
            transport = self._free.pop()
        else:
            transport = httpx.AsyncHTTPTransport(verify=self._verify, limits=_ONE)
            self._every.append(transport)
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if not given_back:
                given_back = True
                self._free.append(transport)
                self._slots.release()

        try:
            response = await transport.handle_async_request(request)
        except BaseException:
            give_back()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_GivenBackWhenRead(response.stream, give_back),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for transport in self._every:
            await transport.aclose()
