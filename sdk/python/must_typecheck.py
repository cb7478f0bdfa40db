"""What the create-relink-session contract lets a client of the generated package write:
the minimal body, a hosted body, and each answer's secret or URL typed `str` once the answer
is told apart. tests/sdk type-checks this with mypy --strict; nothing runs it."""

from __future__ import annotations

from relink_api_client import AuthenticatedClient
from relink_api_client.api.relink_sessions import create_relink_session
from relink_api_client.models import (
    Delivery,
    RelinkSessionCreatedHostedUrl,
    RelinkSessionCreatedModal,
    RelinkSessionCreateHosted,
    RelinkSessionCreateModal,
)


def client_secret_for(client: AuthenticatedClient, account_id: str) -> str | None:
    """Start a modal relink with `{account_id}` alone; its client secret, if it is one."""
    body = RelinkSessionCreateModal(account_id=account_id)
    created = create_relink_session.sync(client=client, body=body)
    if isinstance(created, RelinkSessionCreatedModal):
        secret: str = created.client_secret
        return secret
    return None


def page_for(client: AuthenticatedClient, account_id: str) -> str | None:
    """Start a hosted relink delivered by URL; the page to open, if it is one."""
    body = RelinkSessionCreateHosted(account_id=account_id, ui_mode="hosted", delivery=Delivery.URL)
    created = create_relink_session.sync(client=client, body=body)
    if isinstance(created, RelinkSessionCreatedHostedUrl):
        url: str = created.url
        return url
    return None
