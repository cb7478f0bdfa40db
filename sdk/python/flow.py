"""A short relink with the Python client that openapi-python-client generates from
openapi/openapi.json, against a relink-api sandbox: list the accounts, start an account-scope
relink for a broken one, play the bank through the sandbox (Stripe.js's part, which no client
of this API makes), complete the relink and read the outcome back. Prints the outcome as JSON.

    openapi-python-client generate --path openapi/openapi.json --meta none \\
        --config sdk/python/config.yaml --output-path /tmp/sdk/relink_api_client
    PYTHONPATH=/tmp/sdk python sdk/python/flow.py http://127.0.0.1:8000 "$TOKEN"

The base URL and bearer token come from the arguments, else from RELINK_API_URL and
RELINK_API_TOKEN.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from typing import Any, TypeVar

import httpx
from relink_api_client import AuthenticatedClient
from relink_api_client.api.accounts import list_accounts
from relink_api_client.api.relink_sessions import (
    complete_relink_session,
    create_relink_session,
    get_relink_session,
)
from relink_api_client.models import (
    AccountList,
    LinkHealth,
    Problem,
    RelinkSessionComplete,
    RelinkSessionCreatedModal,
    RelinkSessionCreateModal,
    RelinkSessionRead,
)

T = TypeVar("T")


class FlowError(Exception):
    pass


def expect(result: object, kind: type[T], operation: str) -> T:
    """The operation's success body, or stop with the problem the API answered."""
    if isinstance(result, kind):
        return result
    if isinstance(result, Problem):
        raise FlowError(f"{operation}: {result.status} {result.title}: {result.detail}")
    raise FlowError(f"{operation}: unexpected answer {result!r}")


def play_the_bank(base_url: str, created: RelinkSessionCreatedModal) -> dict[str, Any]:
    """Link the session's account at the sandbox's bank, as the customer would in Stripe.js;
    returns what ``collectFinancialConnectionsAccounts`` resolves with."""
    response = httpx.post(
        f"{base_url}/sandbox/bank/session/complete",
        json={
            "client_secret": created.client_secret,
            "outcome": "link",
            "account_id": created.account_id,
        },
        headers={"Authorization": f"Bearer {created.publishable_key}"},
        timeout=30.0,
    )
    if response.status_code != 200:
        raise FlowError(f"the sandbox bank answered {response.status_code}: {response.text}")
    result: dict[str, Any] = response.json()
    return result


def run(base_url: str, token: str) -> dict[str, Any]:
    with AuthenticatedClient(
        base_url=base_url, token=token, raise_on_unexpected_status=True
    ) as client:
        accounts = expect(list_accounts.sync(client=client, limit=100), AccountList, "listAccounts")
        broken = [
            account
            for account in accounts.data
            if account.link_health == LinkHealth.RELINK_REQUIRED
        ]
        if not broken:
            raise FlowError("no account needs a relink")
        account = broken[0]

        # The minimal body: scope (`account`) and ui_mode (`modal`) are the server's defaults.
        # A retried create (same Idempotency-Key, same body) answers the first session again.
        body = RelinkSessionCreateModal(account_id=account.id)
        idempotency_key = str(uuid.uuid4())
        first = create_relink_session.sync_detailed(
            client=client, body=body, idempotency_key=idempotency_key
        )
        # The answer is one class per ui_mode (and delivery): the modal one has the secrets.
        created = expect(first.parsed, RelinkSessionCreatedModal, "createRelinkSession")
        retry = create_relink_session.sync_detailed(
            client=client, body=body, idempotency_key=idempotency_key
        )
        retried = expect(retry.parsed, RelinkSessionCreatedModal, "createRelinkSession (retried)")
        if retried.id != created.id:
            raise FlowError(f"the retried create made another session: {retried.id}")

        browser_result = play_the_bank(base_url, created)
        completed = expect(
            complete_relink_session.sync(
                created.id,
                client=client,
                body=RelinkSessionComplete.from_dict(browser_result),
            ),
            RelinkSessionRead,
            "completeRelinkSession",
        )
        read = expect(
            get_relink_session.sync(created.id, client=client),
            RelinkSessionRead,
            "getRelinkSession",
        )
        if read.to_dict() != completed.to_dict():
            raise FlowError("getRelinkSession differs from what completeRelinkSession returned")

    return {
        "client": "python",
        "accounts_listed": len(accounts.data),
        "account_id": account.id,
        "session_id": read.id,
        "retried_session_id": retried.id,
        "retry_replayed": retry.headers.get("Idempotent-Replayed"),
        "scope": str(read.scope),
        "status": str(read.status),
        "outcome": None if read.outcome is None else str(read.outcome),
        "failure_reason": None if read.failure_reason is None else str(read.failure_reason),
        "next_step": None if read.next_step is None else str(read.next_step),
        "linked_account_ids": read.linked_account_ids,
        "reactivated_account_ids": read.reactivated_account_ids,
    }


def main(argv: list[str]) -> int:
    base_url = argv[1] if len(argv) > 1 else os.environ.get("RELINK_API_URL", "")
    token = argv[2] if len(argv) > 2 else os.environ.get("RELINK_API_TOKEN", "")
    if not base_url or not token:
        print(
            "usage: flow.py BASE_URL TOKEN (or RELINK_API_URL, RELINK_API_TOKEN)", file=sys.stderr
        )
        return 2
    try:
        outcome = run(base_url.rstrip("/"), token)
    except FlowError as error:
        print(f"flow failed: {error}", file=sys.stderr)
        return 1
    print(json.dumps(outcome, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
