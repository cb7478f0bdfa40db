"""Sending one delivery: to the address that was vetted (pinned, never resolved again), with
the endpoint's host in ``Host`` and in TLS SNI (the certificate is checked against it), no
redirects followed, and at most ``MAX_RESPONSE_BYTES`` of the answer read and discarded."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from relink_api.outbound.addresses import IPAddress

MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: the receiver's status, or why there was none."""

    status: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def new_client(timeout_seconds: float) -> httpx.AsyncClient:
    """The client deliveries go through. No connection is kept alive: a connection is
    pooled by address, and one made for another host name must not be reused. No
    proxies from the environment: a proxy would resolve the name again."""
    return httpx.AsyncClient(
        timeout=timeout_seconds,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def _host_header(url: httpx.URL) -> str:
    host = f"[{url.host}]" if ":" in url.host else url.host
    return host if url.port is None else f"{host}:{url.port}"


async def post(
    client: httpx.AsyncClient,
    url: str,
    address: IPAddress,
    *,
    headers: dict[str, str],
    body: str,
    timeout_seconds: float,
) -> Outcome:
    """POST ``body`` to ``url`` at ``address``; never raises for what the network or the
    receiver does (that is the outcome)."""
    target = httpx.URL(url)
    request = client.build_request(
        "POST",
        target.copy_with(host=str(address)),
        headers={**headers, "host": _host_header(target)},
        content=body.encode(),
        extensions={"sni_hostname": target.host},
    )
    started = time.monotonic()
    try:
        # The whole exchange is bounded, not each read: a receiver that trickles bytes
        # cannot hold a worker past its lease.
        async with asyncio.timeout(timeout_seconds):
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                read = 0
                async for chunk in response.aiter_raw():
                    read += len(chunk)
                    if read >= MAX_RESPONSE_BYTES:
                        break
            finally:
                await response.aclose()
    except TimeoutError:
        return Outcome(None, f"no answer within {timeout_seconds:g} s", _since(started))
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:500], _since(started))
    return Outcome(response.status_code, None, _since(started))


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
