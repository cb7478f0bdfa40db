"""The sandbox shows events for the host application working with no setup: its receiver
is registered at start, and breaking a link in the sandbox gets a signed event to it, which
it verifies, within seconds, through the server's own loops (nothing flushed by hand)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from relink_api.sandbox.receiver import RECEIVER_PATH, Receiver, register_receiver
from relink_api.sandbox.setup import sandbox_admin_key
from tests.integration.test_sandbox_flow import make_demo
from tests.sandbox_server import RunningSandbox, running_sandbox

WITHIN_SECONDS = 15.0


async def received(sandbox: RunningSandbox) -> dict[str, Any]:
    response = await sandbox.client.get(f"{RECEIVER_PATH}/events")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_for(sandbox: RunningSandbox, event_type: str, account_id: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WITHIN_SECONDS
    while loop.time() < deadline:
        for kept in (await received(sandbox))["data"]:
            event = kept["event"]
            if event["type"] == event_type and event["data"]["account"]["id"] == account_id:
                found: dict[str, Any] = kept
                return found
        await asyncio.sleep(0.2)
    pytest.fail(f"no verified {event_type} for {account_id} within {WITHIN_SECONDS} s")


async def test_a_sandbox_deactivation_reaches_the_receiver_signed_and_verified(
    database_url: str, tmp_path: Path
) -> None:
    async with running_sandbox(
        database_url, tmp_path / "data", outbound_workers=1, outbound_poll_seconds=0.2
    ) as sandbox:
        receiver: Receiver = sandbox.app.state.sandbox_receiver
        assert receiver.endpoint_id is not None
        demo = await make_demo(sandbox)
        healthy = demo["healthy"]

        response = await sandbox.client.post(f"/sandbox/control/accounts/{healthy}/deactivate")
        assert response.status_code == 200, response.text

        kept = await wait_for(sandbox, "account.relink_required", healthy)
        assert kept["verified"] is True
        assert kept["event"]["data"]["previous_link_health"] == "ok"
        assert (await received(sandbox))["refused"] == 0
        page = await sandbox.client.get(RECEIVER_PATH)
        assert page.status_code == 200
        assert kept["event"]["id"] in page.text


async def test_a_restart_keeps_one_receiver_with_a_fresh_secret(
    sandbox: RunningSandbox,
) -> None:
    before: Receiver = sandbox.app.state.sandbox_receiver

    again = await register_receiver(sandbox.app.state.database, sandbox.settings)

    assert again.endpoint_id == before.endpoint_id
    assert again.secrets != before.secrets
    listed = (
        await sandbox.client.get("/v1/admin/webhook-endpoints", headers=admin(sandbox))
    ).json()
    assert [(e["id"], e["status"]) for e in listed["data"]] == [(before.endpoint_id, "enabled")]
    assert listed["data"][0]["previous_secret_expires_at"] is not None


async def test_a_restart_at_another_address_disables_the_old_receiver(
    database_url: str, tmp_path: Path
) -> None:
    async with running_sandbox(database_url, tmp_path / "data") as first:
        old: Receiver = first.app.state.sandbox_receiver
    async with running_sandbox(database_url, tmp_path / "data") as second:
        new: Receiver = second.app.state.sandbox_receiver
        listed = await second.client.get("/v1/admin/webhook-endpoints", headers=admin(second))
    statuses = {e["id"]: e["status"] for e in listed.json()["data"]}
    assert statuses == {old.endpoint_id: "disabled", new.endpoint_id: "enabled"}


def admin(sandbox: RunningSandbox) -> dict[str, str]:
    key = sandbox_admin_key(sandbox.settings)
    assert key is not None
    return {"X-Admin-Key": key}


async def test_a_forged_delivery_is_refused_and_not_listed(sandbox: RunningSandbox) -> None:
    response = await sandbox.client.post(
        RECEIVER_PATH,
        content=b'{"id":"evt_forged","type":"account.recovered","data":{}}',
        headers={
            "webhook-id": "evt_forged",
            "webhook-timestamp": "1795003200",
            "webhook-signature": "v1,AAAA",
        },
    )

    assert response.status_code == 400
    body = await received(sandbox)
    assert body["refused"] == 1
    assert body["data"] == []
