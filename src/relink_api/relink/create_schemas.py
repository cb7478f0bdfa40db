"""The create-relink-session contract: one request and one response shape per `ui_mode`.

Each shape is its own schema so that generated clients type the rule the server enforces:
a hosted request needs `delivery` and a modal one may not have it; a modal answer always
carries `client_secret` and `publishable_key`, a hosted one delivered by `url` always
carries `url`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    ModelWrapValidatorHandler,
    RootModel,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from relink_api.relink.schemas import Delivery, Permission, RelinkScope, RelinkSessionStatus, UiMode
from relink_api.web.examples import with_examples
from relink_api.web.inputs import STORABLE_TEXT


def _optional_in_the_document(schema: dict[str, Any]) -> None:
    # Some generators (openapi-typescript's defaults among them) make a property with a
    # `default` required in the type they generate, so a minimal body would not compile.
    # The default is applied by the server and said in the description instead.
    schema.pop("default", None)


def _return_url(use: str) -> Any:
    return Field(
        default=None,
        max_length=2048,
        pattern=STORABLE_TEXT,
        description=f"{use} Must match RELINK_RETURN_URL_ALLOWLIST.",
        json_schema_extra=_optional_in_the_document,
    )


class _RelinkSessionCreateFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(
        min_length=1,
        max_length=255,
        pattern=STORABLE_TEXT,
        description="The account to repair.",
    )
    scope: RelinkScope = Field(
        default=RelinkScope.account,
        description="Optional; `account` when absent.",
        json_schema_extra=_optional_in_the_document,
    )
    permissions: list[Permission] | None = Field(
        default=None,
        max_length=4,
        description="Optional; the account's permissions when absent. `payment_method` is "
        "always added.",
        json_schema_extra=_optional_in_the_document,
    )


class RelinkSessionCreateModal(_RelinkSessionCreateFields):
    """A relink the customer finishes in Stripe.js or a native Financial Connections sheet,
    with the client secret of the answer. `{"account_id": …}` alone is one."""

    model_config = with_examples(
        {"account_id": "fca_1PZ3xY2eZvKYlo2C"},
        {"account_id": "fca_1PZ3xY2eZvKYlo2C", "scope": "institution", "ui_mode": "modal"},
        extra="forbid",
    )

    ui_mode: Literal[UiMode.modal] = Field(
        default=UiMode.modal,
        description="Optional; `modal` when absent.",
        json_schema_extra=_optional_in_the_document,
    )
    delivery: None = Field(
        default=None,
        description="Not allowed with `ui_mode: modal` (null is accepted).",
        json_schema_extra=_optional_in_the_document,
    )
    return_url: str | None = _return_url(
        "Only for Stripe.js inside a webview: where the bank's OAuth page sends the webview "
        "back. Native sheets return through their own URL scheme and browsers need none, so "
        "leave it out there."
    )


class RelinkSessionCreateHosted(_RelinkSessionCreateFields):
    """A relink on a Stripe-hosted page: opened from the answer's `url` or emailed by
    Stripe."""

    model_config = with_examples(
        {
            "account_id": "fca_1PZ3xY2eZvKYlo2C",
            "ui_mode": "hosted",
            "delivery": "url",
            "return_url": "myapp://relink-done",
        },
        extra="forbid",
    )

    ui_mode: Literal[UiMode.hosted]
    delivery: Delivery = Field(
        description="`url`: the answer carries the page to open. `email`: Stripe emails it "
        "to the customer."
    )
    return_url: str | None = _return_url(
        "Optional: where /relink/return sends the customer once the outcome is recorded (an "
        "app scheme closes the in-app browser)."
    )


_TAGS = frozenset(mode.value for mode in UiMode)
_UI_MODE_INVALID = "ui_mode_invalid"


def _ui_mode_of(body: Any) -> str:
    # `ui_mode` may be left out (modal); any other value matches neither tag and is
    # refused with the message below.
    if isinstance(body, dict):
        return str(body.get("ui_mode", UiMode.modal.value))
    return str(getattr(body, "ui_mode", UiMode.modal.value))


def _as_sent(error: ErrorDetails) -> InitErrorDetails:
    loc = error["loc"]
    message = error["msg"]
    if loc and loc[0] in _TAGS:
        loc = loc[1:]
    if error["type"] == _UI_MODE_INVALID:
        loc = ("ui_mode",)
    elif loc == ("delivery",) and error["type"] == "none_required":
        message = "delivery is only for ui_mode 'hosted'"
    return {
        "type": PydanticCustomError(error["type"], message),
        "loc": loc,
        "input": error["input"],
    }


# What the service takes: the request, once told apart.
CreateRequest = RelinkSessionCreateModal | RelinkSessionCreateHosted


class RelinkSessionCreate(
    RootModel[
        Annotated[
            Annotated[RelinkSessionCreateModal, Tag(UiMode.modal.value)]
            | Annotated[RelinkSessionCreateHosted, Tag(UiMode.hosted.value)],
            Discriminator(
                _ui_mode_of,
                custom_error_type=_UI_MODE_INVALID,
                custom_error_message="ui_mode must be 'modal' or 'hosted'",
            ),
        ]
    ]
):
    """Start a relink for one of the caller's accounts: `modal` (the default, when
    `ui_mode` is absent) or `hosted`. The two are told apart by `ui_mode`'s value; it
    is not an OpenAPI `discriminator` because that needs the property present."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"account_id": "fca_1PZ3xY2eZvKYlo2C"},
                {"account_id": "fca_1PZ3xY2eZvKYlo2C", "ui_mode": "hosted", "delivery": "email"},
            ]
        }
    )

    @model_validator(mode="wrap")
    @classmethod
    def _fields_named_as_sent(
        cls, value: Any, handler: ModelWrapValidatorHandler[RelinkSessionCreate]
    ) -> RelinkSessionCreate:
        # Pydantic puts the variant's tag in each error's location (`body.modal.delivery`);
        # a client highlights the field it sent, so the tag is taken out again.
        try:
            return handler(value)
        except ValidationError as exc:
            raise ValidationError.from_exception_data(
                exc.title, [_as_sent(error) for error in exc.errors()]
            ) from None


class _RelinkSessionCreatedFields(BaseModel):
    id: str
    stripe_session_id: str
    scope: RelinkScope
    account_id: str
    authorization_id: str
    status: RelinkSessionStatus
    created_at: datetime


_CREATED_EXAMPLE: dict[str, Any] = {
    "id": "rls_3f9c2a7d41b8e6f0a2c4d5e6",
    "stripe_session_id": "fcsess_1PZ3xY2eZvKYlo2C",
    "scope": "account",
    "account_id": "fca_1PZ3xY2eZvKYlo2C",
    "authorization_id": "fcauth_1PZ3xY2eZvKYlo2C",
    "status": "open",
    "created_at": "2026-11-26T12:00:00Z",
}
_CREATED_MODAL = {
    **_CREATED_EXAMPLE,
    "ui_mode": "modal",
    "client_secret": "fcsess_1PZ3xY2eZvKYlo2C_secret_abc123",
    "publishable_key": "pk_test_123",
    "delivery": None,
    "url": None,
}
_CREATED_HOSTED_URL = {
    **_CREATED_EXAMPLE,
    "ui_mode": "hosted",
    "delivery": "url",
    "url": "https://connect.stripe.com/fc/hosted/fcsess_1PZ3xY2eZvKYlo2C",
    "client_secret": None,
    "publishable_key": "pk_test_123",
}
_CREATED_HOSTED_EMAIL = {**_CREATED_HOSTED_URL, "delivery": "email", "url": None}


class RelinkSessionCreatedModal(_RelinkSessionCreatedFields):
    """A modal session: its client secret goes straight to Stripe.js or the native sheet.
    It is shown once and never stored."""

    model_config = with_examples(_CREATED_MODAL)

    ui_mode: Literal[UiMode.modal]
    client_secret: str = Field(
        description="Pass to collectFinancialConnectionsAccounts or the native Financial "
        "Connections sheet; never log or store it."
    )
    publishable_key: str = Field(description="The Stripe key that client secret goes with.")
    delivery: None
    url: None


class RelinkSessionCreatedHostedUrl(_RelinkSessionCreatedFields):
    """A hosted session to open in an in-app browser; nothing secret."""

    model_config = with_examples(_CREATED_HOSTED_URL)

    ui_mode: Literal[UiMode.hosted]
    delivery: Literal[Delivery.url]
    url: str = Field(
        description="The Stripe-hosted page to open in an in-app browser. It ends at "
        "/relink/return."
    )
    client_secret: None
    publishable_key: str | None


class RelinkSessionCreatedHostedEmail(_RelinkSessionCreatedFields):
    """A hosted session Stripe emails to the customer: neither secret nor URL."""

    model_config = with_examples(_CREATED_HOSTED_EMAIL)

    ui_mode: Literal[UiMode.hosted]
    delivery: Literal[Delivery.email]
    url: None
    client_secret: None
    publishable_key: str | None


class RelinkSessionCreatedHosted(
    RootModel[
        Annotated[
            RelinkSessionCreatedHostedUrl | RelinkSessionCreatedHostedEmail,
            Field(discriminator="delivery"),
        ]
    ]
):
    """A hosted session, by how it reaches the customer."""


# What the service hands back; the router answers with RelinkSessionCreated.
CreatedSession = (
    RelinkSessionCreatedModal | RelinkSessionCreatedHostedUrl | RelinkSessionCreatedHostedEmail
)


def _ui_mode_of_created(value: Any) -> str:
    # The hosted member is itself a union (by delivery), so the tag is read through it.
    if isinstance(value, dict):
        return str(value.get("ui_mode"))
    if isinstance(value, RelinkSessionCreatedHosted):
        value = value.root
    return str(value.ui_mode)


class RelinkSessionCreated(
    RootModel[
        Annotated[
            Annotated[RelinkSessionCreatedModal, Tag(UiMode.modal.value)]
            | Annotated[RelinkSessionCreatedHosted, Tag(UiMode.hosted.value)],
            Discriminator(_ui_mode_of_created),
        ]
    ]
):
    """A new relink session: tell the three apart by `ui_mode`, then, if hosted, by
    `delivery`. Each variant fixes `ui_mode` with `const`; there is no OpenAPI
    `discriminator` at this level because the `hosted` answer is itself a choice of two
    schemas, which a discriminator's mapping cannot name (generators refuse it)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [_CREATED_MODAL, _CREATED_HOSTED_URL, _CREATED_HOSTED_EMAIL],
        }
    )
