"""The only module that talks to Stripe.

Wraps the official SDK's ``StripeClient`` (async methods, httpx transport), pins the API
version, sets retries and the timeout deliberately, and turns Stripe's errors into domain
errors. Everything it returns is a ``stripe_objects`` model, never an SDK object.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import stripe
from aiolimiter import AsyncLimiter
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
# Stripe's own Retry-After on a 429 is passed on within these bounds (a header that asked
# for an hour would stall every client for no good reason).
RETRY_AFTER_RATE_LIMITED_MAX = 60
RETRY_AFTER_UNAVAILABLE = 5
_LIST_PAGE_SIZE = 100

Gate = Callable[[], Awaitable[None]]
"""Awaited before every HTTP attempt to Stripe; it may wait, or raise to send nothing."""


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


class _GatedHTTPXClient(stripe.HTTPXClient):
    """The SDK's httpx client, passing its gates before every HTTP attempt.

    The SDK retries inside ``_request_with_retries_internal_async`` by calling
    ``request_async`` once per attempt, so a limit enforced here counts attempts (retries
    included), not calls. A gate's exception (not an ``APIConnectionError``) ends the call
    without a retry and without anything sent.
    """

    _pace: Gate | None = None
    _budget: Gate | None = None

    async def request_async(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        post_data: Any = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        # The run's own pace first, the shared budget last: closest to the send, so that a
        # wait for the pace cannot bunch attempts the budget already spaced out.
        if self._pace is not None:
            await self._pace()
        if self._budget is not None:
            await self._budget()
        return await super().request_async(method, url, headers, post_data)

    def gated(self, *, pace: Gate | None, budget: Gate | None) -> _GatedHTTPXClient:
        """The same connection pool behind other gates."""
        clone = copy.copy(self)
        clone._pace = pace
        clone._budget = budget if budget is not None else self._budget
        return clone


class StripeGateway:
    """Async access to the Stripe calls relink-api makes.

    ``budget`` is awaited before every HTTP attempt (the service-wide Stripe budget)."""

    def __init__(self, settings: Settings, *, api_key: str, budget: Gate | None = None) -> None:
        http_client = _GatedHTTPXClient(timeout=settings.stripe_timeout_seconds)
        http_client._budget = budget
        self._setup(settings, api_key, http_client, owns_pool=True)

    def _setup(
        self, settings: Settings, api_key: str, http_client: _GatedHTTPXClient, *, owns_pool: bool
    ) -> None:
        self._settings = settings
        self._api_key = api_key
        self._http_client = http_client
        self._owns_pool = owns_pool
        base_addresses: BaseAddresses = {}
        if settings.stripe_api_base is not None:
            base_addresses["api"] = settings.stripe_api_base
        self._client = stripe.StripeClient(
            api_key,
            http_client=http_client,
            stripe_version=settings.stripe_api_version,
            max_network_retries=settings.stripe_max_network_retries,
            base_addresses=base_addresses,
        )

    def paced(self, requests_per_second: float, *, budget: Gate | None = None) -> StripeGateway:
        """This gateway, sharing its connections, with at most ``requests_per_second`` HTTP
        attempts (retries included), one at a time spaced evenly: no one-second window sees
        more. ``budget`` replaces the shared budget's gate (background work waits for its
        turn instead of failing). Closing it leaves the connections to this gateway."""
        # Capacity 1: attempts spaced 1/rate apart, where AsyncLimiter(rate, 1) would let a
        # whole second's worth through at once and then another by the end of that second.
        limiter = AsyncLimiter(1, 1 / requests_per_second)
        derived = object.__new__(StripeGateway)
        derived._setup(
            self._settings,
            self._api_key,
            self._http_client.gated(pace=limiter.acquire, budget=budget),
            owns_pool=False,
        )
        return derived

    async def aclose(self) -> None:
        if self._owns_pool:
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
    """Stripe's params for an ACH SetupIntent from an FC account (docs/stripe.md §6)."""
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
            headers={"Retry-After": str(stripe_retry_after(exc.headers))},
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


def stripe_retry_after(headers: Mapping[str, str] | None) -> int:
    """Stripe's own ``Retry-After`` (whole seconds) from a 429, within sane bounds; 2 s when
    it sent none or one that is not a number of seconds."""
    for name, value in (headers or {}).items():
        if name.lower() != "retry-after":
            continue
        try:
            seconds = float(value.strip())
        except ValueError:
            break
        if not math.isfinite(seconds):
            break
        return min(max(1, math.ceil(seconds)), RETRY_AFTER_RATE_LIMITED_MAX)
    return RETRY_AFTER_RATE_LIMITED


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
