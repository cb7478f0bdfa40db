"""Who may use the sandbox's own routes (controls, the receiver's page)."""

from __future__ import annotations

from fastapi import Request

from relink_api.auth import ADMIN_KEY_HEADER, authenticate_admin
from relink_api.sandbox.setup import is_loopback
from relink_api.web.deps import SettingsDep


async def local_or_operator(request: Request, settings: SettingsDep) -> None:
    """Callers on this machine, or anyone with the sandbox's admin key.

    These routes act for every customer (mint their tokens, list every emailed relink URL,
    break their accounts); a sandbox that was allowed off loopback must not hand that to
    whoever reaches its port. Once the server believes a proxy's X-Forwarded-For
    (RELINK_FORWARDED_ALLOW_IPS), the client address is a header's word, which anyone the
    proxy list lets through could set to 127.0.0.1: then every caller needs the key."""
    client = request.client
    if not settings.forwarded_allow_ips and client is not None and is_loopback(client.host):
        return
    authenticate_admin(
        settings,
        key=request.headers.get(ADMIN_KEY_HEADER),
        authorization_header=request.headers.get("authorization"),
    )
