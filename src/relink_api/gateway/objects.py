"""The parts of Stripe's Financial Connections objects that relink-api reads.

Plain pydantic models, so webhooks, the gateway and the services share one reading of
Stripe's wire shapes without importing the SDK. Unknown fields are kept (``extra="allow"``)
and every optional field tolerates ``null`` or absence, as the SDK's own types do.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# An account's (or authorization's) `status` as Stripe sends it. The SDK types it as
# `Literal["active", "inactive", "disconnected"] | str`: a value Stripe adds later must be
# read and stored, never refused (docs/stripe.md §2).
StripeStatus = Annotated[str, Field(min_length=1)]
KNOWN_STATUSES = frozenset({"active", "inactive", "disconnected"})
# `status_details.inactive.cause` values (docs/stripe.md §2).
INACTIVE_CAUSES = (
    "access_denied",
    "access_expired",
    "account_closed",
    "account_unavailable",
    "institution_requirement",
    "unspecified",
)


def from_unix(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def _id_of_expanded(value: Any) -> Any:
    # An expandable field holds an id, or the whole object (with its id) when expanded.
    if isinstance(value, dict):
        return value.get("id")
    return value


ExpandableId = Annotated[str | None, BeforeValidator(_id_of_expanded)]


class _StripeShape(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class AccountHolder(_StripeShape):
    type: str
    customer: str | None = None
    customer_account: str | None = None
    account: str | None = None


class ActiveStatusDetails(_StripeShape):
    action: str | None = None
    cause: str | None = None
    expected_deactivation_date: int | None = None


class InactiveStatusDetails(_StripeShape):
    action: str | None = None
    cause: str | None = None


class StatusDetails(_StripeShape):
    active: ActiveStatusDetails | None = None
    inactive: InactiveStatusDetails | None = None


class AccountNumber(_StripeShape):
    identifier_type: str | None = None
    status: str | None = None
    expected_expiry_date: int | None = None


class FcAccount(_StripeShape):
    """``financial_connections.account``."""

    id: str
    object: Literal["financial_connections.account"] = "financial_connections.account"
    account_holder: AccountHolder | None = None
    authorization: str | None = None
    institution: ExpandableId = None
    institution_name: str | None = None
    display_name: str | None = None
    last4: str | None = None
    category: str | None = None
    subcategory: str | None = None
    status: StripeStatus
    status_details: StatusDetails | None = None
    permissions: list[str] | None = None
    account_numbers: list[AccountNumber] | None = None
    created: int | None = None
    livemode: bool = False

    @property
    def customer(self) -> str | None:
        return self.account_holder.customer if self.account_holder else None

    def _details_for_status(self) -> ActiveStatusDetails | InactiveStatusDetails | None:
        # Each status has its own branch: the cause of an inactive account lives under
        # `inactive`, never under `active`.
        details = self.status_details
        if details is None:
            return None
        if self.status == "active":
            return details.active
        if self.status == "inactive":
            return details.inactive
        return None

    @property
    def action(self) -> str | None:
        """The action of the status_details branch matching the status."""
        details = self._details_for_status()
        return details.action if details else None

    @property
    def cause(self) -> str | None:
        """Why the account is (or is expected to become) inactive."""
        details = self._details_for_status()
        return details.cause if details else None

    @property
    def expected_deactivation_at(self) -> datetime | None:
        details = self.status_details
        if self.status != "active" or details is None or details.active is None:
            return None
        return from_unix(details.active.expected_deactivation_date)

    @property
    def account_number_expires_at(self) -> datetime | None:
        """The earliest expiry among transactable account numbers (tokenized ones expire)."""
        dates = [
            number.expected_expiry_date
            for number in self.account_numbers or []
            if number.expected_expiry_date is not None and number.status == "transactable"
        ]
        return from_unix(min(dates)) if dates else None


class AuthorizationActiveDetails(_StripeShape):
    action: str | None = None
    expected_deactivation_date: int | None = None


class AuthorizationInactiveDetails(_StripeShape):
    action: str | None = None


class AuthorizationStatusDetails(_StripeShape):
    active: AuthorizationActiveDetails | None = None
    inactive: AuthorizationInactiveDetails | None = None


class FcAuthorization(_StripeShape):
    """``financial_connections.authorization``."""

    id: str
    object: Literal["financial_connections.authorization"] = "financial_connections.authorization"
    account_holder: AccountHolder | None = None
    institution: ExpandableId = None
    institution_name: str | None = None
    status: StripeStatus
    status_details: AuthorizationStatusDetails | None = None
    livemode: bool = False

    @property
    def customer(self) -> str | None:
        return self.account_holder.customer if self.account_holder else None


class RelinkOptions(_StripeShape):
    authorization: str | None = None
    account: str | None = None


class RelinkResult(_StripeShape):
    account: str | None = None
    authorization: str | None = None
    failure_reason: str | None = None


class SessionAccounts(_StripeShape):
    data: list[FcAccount] = Field(default_factory=list)


class FcSession(_StripeShape):
    """``financial_connections.session``. ``client_secret`` is held only in memory."""

    id: str
    object: Literal["financial_connections.session"] = "financial_connections.session"
    account_holder: AccountHolder | None = None
    accounts: SessionAccounts = Field(default_factory=SessionAccounts)
    client_secret: str | None = Field(default=None, repr=False)
    permissions: list[str] = Field(default_factory=list)
    relink_options: RelinkOptions | None = None
    relink_result: RelinkResult | None = None
    status: str | None = None
    ui_mode: str | None = None
    url: str | None = Field(default=None, repr=False)
    livemode: bool = False


class BlockedDetails(_StripeShape):
    """Why Stripe will not debit the payment method (docs/stripe.md §6): ``reason`` such as
    ``tokenized_account_number_deactivated`` or ``bank_account_closed``, and the ACH return
    code behind it, if any (``R02``…)."""

    network_code: str | None = None
    reason: str | None = None


class UsBankAccountStatusDetails(_StripeShape):
    blocked: BlockedDetails | None = None


class UsBankAccount(_StripeShape):
    bank_name: str | None = None
    last4: str | None = None
    account_type: str | None = None
    financial_connections_account: str | None = None
    status_details: UsBankAccountStatusDetails | None = None


class PaymentMethod(_StripeShape):
    """``payment_method`` (only ``us_bank_account`` ones matter here)."""

    id: str
    object: Literal["payment_method"] = "payment_method"
    type: str
    customer: ExpandableId = None
    customer_account: str | None = None
    created: int | None = None
    us_bank_account: UsBankAccount | None = None

    @property
    def financial_connections_account(self) -> str | None:
        return self.us_bank_account.financial_connections_account if self.us_bank_account else None

    @property
    def saved(self) -> bool:
        """Saved to a customer; once detached it never is again (docs/stripe.md §6)."""
        return self.customer is not None or self.customer_account is not None

    @property
    def blocked(self) -> BlockedDetails | None:
        """Stripe's ``us_bank_account.status_details.blocked``: ``None`` unless blocked."""
        details = self.us_bank_account.status_details if self.us_bank_account else None
        return details.blocked if details else None


class SetupError(_StripeShape):
    type: str | None = None
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None


class SetupIntent(_StripeShape):
    """``setup_intent``; ``payment_method`` is an id, or the object when expanded.
    ``client_secret`` is held only in memory."""

    id: str
    object: Literal["setup_intent"] = "setup_intent"
    status: str
    customer: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    payment_method: PaymentMethod | str | None = None
    last_setup_error: SetupError | None = None
    metadata: dict[str, str] | None = None

    @property
    def payment_method_id(self) -> str | None:
        if isinstance(self.payment_method, PaymentMethod):
            return self.payment_method.id
        return self.payment_method


class EventData(_StripeShape):
    object: dict[str, Any] = Field(default_factory=dict)


class StripeEvent(_StripeShape):
    """An event envelope (``object: "event"``); ``data.object`` stays raw JSON until a
    handler reads it as the resource its type names."""

    id: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=255)
    created: int
    api_version: str | None = None
    livemode: bool = False
    data: EventData = Field(default_factory=EventData)

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.created, tz=UTC)

    @property
    def object_id(self) -> str | None:
        value = self.data.object.get("id")
        return value if isinstance(value, str) else None
