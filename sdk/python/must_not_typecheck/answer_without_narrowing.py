"""Only a modal answer has a client secret, and only a hosted `url` one a URL: read from an
answer not yet told apart, either may be None."""

from relink_api_client.models import (
    RelinkSessionCreatedHostedEmail,
    RelinkSessionCreatedHostedUrl,
    RelinkSessionCreatedModal,
)

Created = (
    RelinkSessionCreatedModal | RelinkSessionCreatedHostedUrl | RelinkSessionCreatedHostedEmail
)


def client_secret(created: Created) -> str:
    # expect error at created.client_secret: expression has type "str | None"
    secret: str = created.client_secret
    return secret


def url(created: Created) -> str:
    # expect error at created.url: expression has type "str | None"
    page: str = created.url
    return page
