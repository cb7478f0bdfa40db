"""The only module that talks to Stripe.

Wraps the official SDK's ``StripeClient`` (async methods, httpx transport), pins the API
version, sets retries and the timeout deliberately, and turns Stripe's errors into domain
errors. Everything it returns is a ``stripe_objects`` model, never an SDK object.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import stripe
from stripe._base_address import BaseAddresses
from stripe.params import SetupIntentCreateParams
from stripe.params.financial_connections import (
    SessionCreateParams,
    SessionCreateParamsAccountHolder,
)

from relink_api.errors import (
    ProblemError,
    StripeConfigurationError,
    StripeFailed,
    StripeInvalidRequest,
    StripeRateLimited,
    StripeResourceMissing,
    StripeUnavailable,
)
from relink_api.settings import Settings
from relink_api.stripe_objects import (
    AccountHolder,
    FcAccount,
    FcAuthorization,
    FcSession,
    PaymentMethod,
    SetupIntent,
)

logger = logging.getLogger(__name__)

RelinkScope = Literal["account", "institution"]
T = TypeVar("T")

# Stripe's guide: an institution-scope relink for payments collects one account, and only
# the kinds an ACH payment method can use.
INSTITUTION_SCOPE_SUBCATEGORIES = ("checking", "savings")
RETRY_AFTER_RATE_LIMITED = 2
RETRY_AFTER_UNAVAILABLE = 5
_LIST_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class RelinkSessionRequest:
    """What a relink session is created for; the gateway turns it into Stripe's params."""

    scope: RelinkScope
    authorization_id: str
    account_id: str
    account_holder: AccountHolder | None
    permissions: Sequence[str]
    return_url: str | None = None
    idempotency_key: str | None = None
    # ``url`` or ``email`` for a Stripe-hosted session; ``None`` for the modal.
    hosted_delivery: Literal["url", "email"] | None = None


@dataclass(frozen=True, slots=True)
class SetupIntentRequest:
    """A SetupIntent that turns a newly linked FC account into an ACH payment method."""

    customer_id: str | None
    financial_connections_account: str
    billing_name: str
    metadata: dict[str, str]
    idempotency_key: str


class StripeGateway:
    """Async access to the Stripe calls relink-api makes."""

    def __init__(self, settings: Settings, *, api_key: str) -> None:
        self._http_client = stripe.HTTPXClient(timeout=settings.stripe_timeout_seconds)
        base_addresses: BaseAddresses = {}
        if settings.stripe_api_base is not None:
            base_addresses["api"] = settings.stripe_api_base
        self._client = stripe.StripeClient(
            api_key,
            http_client=self._http_client,
            stripe_version=settings.stripe_api_version,
            max_network_retries=settings.stripe_max_network_retries,
            base_addresses=base_addresses,
        )

    async def aclose(self) -> None:
        await self._http_client.close_async()  # type: ignore[no-untyped-call]

    async def create_relink_session(self, request: RelinkSessionRequest) -> FcSession:
        """Create an FC Session that relinks one account, or any eligible one at its bank."""
        params = relink_session_params(request)
        options: dict[str, Any] = {}
        if request.idempotency_key is not None:
            options["idempotency_key"] = request.idempotency_key
        session = await self._call(
            self._client.v1.financial_connections.sessions.create_async(params, options)  # type: ignore[arg-type]
        )
        return FcSession.model_validate(session.to_dict())

    async def retrieve_session(self, session_id: str) -> FcSession:
        session = await self._call(
            self._client.v1.financial_connections.sessions.retrieve_async(session_id)
        )
        return FcSession.model_validate(session.to_dict())

    async def retrieve_account(self, account_id: str) -> tuple[FcAccount, dict[str, Any]]:
        """The account as a model, and its full JSON for the stored snapshot."""
        account = await self._call(
            self._client.v1.financial_connections.accounts.retrieve_async(account_id)
        )
        raw = account.to_dict()
        return FcAccount.model_validate(raw), raw

    async def list_customer_accounts(
        self, customer_id: str
    ) -> AsyncIterator[tuple[FcAccount, dict[str, Any]]]:
        """Every FC account whose account holder is this customer, page by page."""
        starting_after: str | None = None
        while True:
            params: dict[str, Any] = {
                "account_holder": {"customer": customer_id},
                "limit": _LIST_PAGE_SIZE,
            }
            if starting_after is not None:
                params["starting_after"] = starting_after
            page = await self._call(
                self._client.v1.financial_connections.accounts.list_async(params)  # type: ignore[arg-type]
            )
            for account in page.data:
                raw = account.to_dict()
                yield FcAccount.model_validate(raw), raw
            if not page.has_more or not page.data:
                return
            starting_after = page.data[-1].id

    async def retrieve_authorization(self, authorization_id: str) -> FcAuthorization:
        authorization = await self._call(
            self._client.v1.financial_connections.authorizations.retrieve_async(authorization_id)
        )
        return FcAuthorization.model_validate(authorization.to_dict())

    async def create_setup_intent(self, request: SetupIntentRequest) -> SetupIntent:
        """Create (not confirm) the SetupIntent; the customer confirms it with the mandate."""
        params = setup_intent_params(request)
        setup_intent = await self._call(
            self._client.v1.setup_intents.create_async(
                params, {"idempotency_key": request.idempotency_key}
            )
        )
        return SetupIntent.model_validate(setup_intent.to_dict())

    async def retrieve_setup_intent(self, setup_intent_id: str) -> SetupIntent:
        """The SetupIntent with its payment method expanded: one read settles both."""
        setup_intent = await self._call(
            self._client.v1.setup_intents.retrieve_async(
                setup_intent_id, {"expand": ["payment_method"]}
            )
        )
        return SetupIntent.model_validate(setup_intent.to_dict())

    async def list_bank_payment_methods(self, customer_id: str) -> list[PaymentMethod]:
        """The customer's ``us_bank_account`` payment methods, every page."""
        found: list[PaymentMethod] = []
        starting_after: str | None = None
        while True:
            params: dict[str, Any] = {
                "customer": customer_id,
                "type": "us_bank_account",
                "limit": _LIST_PAGE_SIZE,
            }
            if starting_after is not None:
                params["starting_after"] = starting_after
            page = await self._call(
                self._client.v1.payment_methods.list_async(params)  # type: ignore[arg-type]
            )
            found.extend(PaymentMethod.model_validate(item.to_dict()) for item in page.data)
            if not page.has_more or not page.data:
                return found
            starting_after = page.data[-1].id

    async def _call(self, call: Awaitable[T]) -> T:
        async with translate_stripe_errors():
            return await call


def relink_session_params(request: RelinkSessionRequest) -> SessionCreateParams:
    """Stripe's params for a relink session, exactly as the relink guide prescribes."""
    permissions = ["payment_method", *sorted(set(request.permissions) - {"payment_method"})]
    params: SessionCreateParams = {"permissions": permissions}
    holder = request.account_holder
    if holder is not None:
        # Same holder as the existing account; omitted for holder-less accounts (two-step
        # confirmation flows), as Stripe's guide says.
        account_holder: SessionCreateParamsAccountHolder = {"type": holder.type}
        if holder.customer is not None:
            account_holder["customer"] = holder.customer
        if holder.customer_account is not None:
            account_holder["customer_account"] = holder.customer_account
        if holder.account is not None:
            account_holder["account"] = holder.account
        params["account_holder"] = account_holder
    if request.scope == "account":
        params["relink_options"] = {
            "authorization": request.authorization_id,
            "account": request.account_id,
        }
    else:
        params["relink_options"] = {"authorization": request.authorization_id}
        params["limits"] = {"accounts": 1}
        params["filters"] = {"account_subcategories": list(INSTITUTION_SCOPE_SUBCATEGORIES)}
    if request.return_url is not None:
        params["return_url"] = request.return_url
    if request.hosted_delivery is not None:
        params["ui_mode"] = "hosted"
        params["hosted"] = {"delivery_method": request.hosted_delivery}
    return params


def setup_intent_params(request: SetupIntentRequest) -> SetupIntentCreateParams:
    """Stripe's params for an ACH SetupIntent from an FC account (REFERENCE.md section 6)."""
    params: SetupIntentCreateParams = {
        # The pinned preview API removed payment_method_types (2026-08-26.preview).
        "allowed_payment_method_types": ["us_bank_account"],
        "payment_method_data": {
            "type": "us_bank_account",
            "us_bank_account": {
                "financial_connections_account": request.financial_connections_account
            },
            "billing_details": {"name": request.billing_name},
        },
        "usage": "off_session",
        "metadata": request.metadata,
    }
    if request.customer_id is not None:
        params["customer"] = request.customer_id
    return params


@asynccontextmanager
async def translate_stripe_errors() -> AsyncIterator[None]:
    """Turn SDK exceptions into domain errors that render as problems."""
    try:
        yield
    except stripe.InvalidRequestError as exc:
        raise _invalid_request_problem(exc) from exc
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        # Stripe's message names the (redacted) key; say what to fix, not what was sent.
        logger.error(
            "Stripe rejected the server's API key (%s, request %s)",
            type(exc).__name__,
            exc.request_id,
        )
        raise StripeConfigurationError(
            "Stripe rejected this server's credentials; an operator must check "
            "STRIPE_SECRET_KEY and its permissions. Nothing was changed."
        ) from exc
    except stripe.RateLimitError as exc:
        logger.warning("Stripe rate limited the request %s", exc.request_id)
        raise StripeRateLimited(
            "Stripe is rate limiting this service; retry shortly.",
            headers={"Retry-After": str(RETRY_AFTER_RATE_LIMITED)},
        ) from exc
    except stripe.APIConnectionError as exc:
        logger.warning("Stripe could not be reached: %s", type(exc).__name__)
        raise StripeUnavailable(
            "Stripe could not be reached after retrying; retry shortly.",
            headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
        ) from exc
    except stripe.StripeError as exc:
        logger.warning(
            "Stripe error %s (HTTP %s, request %s)",
            type(exc).__name__,
            exc.http_status,
            exc.request_id,
        )
        raise StripeFailed(
            "Stripe returned an error after retrying; retry shortly.",
            extensions={"stripe_request_id": exc.request_id},
            headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
        ) from exc


def _invalid_request_problem(exc: stripe.InvalidRequestError) -> ProblemError:
    extensions: dict[str, Any] = {
        "stripe_code": exc.code,
        "stripe_param": exc.param,
        "stripe_request_id": exc.request_id,
    }
    message = exc.user_message or "Stripe rejected the request."
    if exc.http_status == 404 or exc.code == "resource_missing":
        return StripeResourceMissing(message, extensions=extensions)
    return StripeInvalidRequest(message, extensions=extensions)


async def gather_limited(
    items: Sequence[T], worker: Callable[[T], Awaitable[Any]], *, limit: int
) -> list[Any]:
    """Run ``worker`` over ``items`` with at most ``limit`` in flight (Stripe's rate limit)."""
    semaphore = asyncio.Semaphore(limit)

    async def one(item: T) -> Any:
        async with semaphore:
            return await worker(item)

    return list(await asyncio.gather(*(one(item) for item in items)))
