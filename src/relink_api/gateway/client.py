"""The only module that talks to Stripe.

Wraps the official SDK's ``StripeClient`` (async methods, httpx transport), pins the API
version, sets retries and the timeout deliberately, and turns Stripe's errors into domain
errors. Everything it returns is a ``gateway.objects`` model, never an SDK object.
"""

from __future__ import annotations

import copy
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx
import stripe
from stripe._base_address import BaseAddresses

from relink_api.gateway.connections import OneCallPerConnection
from relink_api.gateway.objects import (
    FcAccount,
    FcAuthorization,
    FcSession,
    PaymentMethod,
    SetupIntent,
)
from relink_api.gateway.observed import observed_call
from relink_api.gateway.pace import Pace
from relink_api.gateway.requests import (
    RelinkSessionRequest,
    SetupIntentRequest,
    relink_session_params,
    setup_intent_params,
)
from relink_api.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")
_LIST_PAGE_SIZE = 100
_SESSIONS = "/v1/financial_connections/sessions"

Gate = Callable[[], Awaitable[None]]
"""Awaited before every HTTP attempt to Stripe; it may wait, or raise to send nothing."""

# Connections to Stripe open at once (httpx's default), every one kept between calls.
CONNECTIONS = 100


class _GatedHTTPXClient(stripe.HTTPXClient):
    """The SDK's httpx client, passing its gates before every HTTP attempt.

    The SDK retries inside ``_request_with_retries_internal_async`` by calling
    ``request_async`` once per attempt, so a limit enforced here counts attempts (retries
    included), not calls. A gate's exception (not an ``APIConnectionError``) ends the call
    without a retry and without anything sent.
    """

    _pace: Gate | None = None
    _budget: Gate | None = None

    def __init__(self, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        # The SDK's own client, on connections of our keeping (gateway/connections.py).
        verify: ssl.SSLContext | bool = False
        if self._verify_ssl_certs:
            verify = ssl.create_default_context(cafile=stripe.ca_bundle_path)
        transport = OneCallPerConnection(verify=verify, most=CONNECTIONS)
        self._client_async = httpx.AsyncClient(transport=transport)

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
        pace = Pace(requests_per_second)
        derived = object.__new__(StripeGateway)
        derived._setup(
            self._settings,
            self._api_key,
            self._http_client.gated(pace=pace.wait, budget=budget),
            owns_pool=False,
        )
        return derived

    async def aclose(self) -> None:
        if self._owns_pool:
            await self._http_client.close_async()  # type: ignore[no-untyped-call]

    async def create_relink_session(self, request: RelinkSessionRequest) -> FcSession:
        """Create an FC Session that relinks one account, or any eligible one at its bank."""
        params: dict[str, Any] = dict(relink_session_params(request))
        if request.idempotency_key is not None:
            params["idempotency_key"] = request.idempotency_key
        # The SDK's raw request: the same requestor (headers, idempotency key, retries, the
        # gates, errors raised as the typed call raises them), without building a
        # StripeObject only to turn it back into a dict: ~175 µs of a create's CPU.
        response = await self._call(
            "financial_connections.sessions.create",
            self._client.raw_request_async("post", _SESSIONS, **params),
        )
        return FcSession.model_validate(response.data)

    async def retrieve_session(self, session_id: str) -> FcSession:
        session = await self._call(
            "financial_connections.sessions.retrieve",
            self._client.v1.financial_connections.sessions.retrieve_async(session_id),
        )
        return FcSession.model_validate(session.to_dict())

    async def retrieve_account(self, account_id: str) -> tuple[FcAccount, dict[str, Any]]:
        """The account as a model, and its full JSON for the stored snapshot."""
        account = await self._call(
            "financial_connections.accounts.retrieve",
            self._client.v1.financial_connections.accounts.retrieve_async(account_id),
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
                "financial_connections.accounts.list",
                self._client.v1.financial_connections.accounts.list_async(params),  # type: ignore[arg-type]
            )
            for account in page.data:
                raw = account.to_dict()
                yield FcAccount.model_validate(raw), raw
            if not page.has_more or not page.data:
                return
            starting_after = page.data[-1].id

    async def retrieve_authorization(self, authorization_id: str) -> FcAuthorization:
        authorization = await self._call(
            "financial_connections.authorizations.retrieve",
            self._client.v1.financial_connections.authorizations.retrieve_async(authorization_id),
        )
        return FcAuthorization.model_validate(authorization.to_dict())

    async def create_setup_intent(self, request: SetupIntentRequest) -> SetupIntent:
        """Create (not confirm) the SetupIntent; the customer confirms it with the mandate."""
        params = setup_intent_params(request)
        setup_intent = await self._call(
            "setup_intents.create",
            self._client.v1.setup_intents.create_async(
                params, {"idempotency_key": request.idempotency_key}
            ),
        )
        return SetupIntent.model_validate(setup_intent.to_dict())

    async def retrieve_setup_intent(self, setup_intent_id: str) -> SetupIntent:
        """The SetupIntent with its payment method expanded: one read settles both."""
        setup_intent = await self._call(
            "setup_intents.retrieve",
            self._client.v1.setup_intents.retrieve_async(
                setup_intent_id, {"expand": ["payment_method"]}
            ),
        )
        return SetupIntent.model_validate(setup_intent.to_dict())

    async def cancel_setup_intent(self, setup_intent_id: str) -> SetupIntent:
        """Cancel a SetupIntent nobody will confirm (Stripe refuses once it has succeeded
        or while it is processing)."""
        setup_intent = await self._call(
            "setup_intents.cancel",
            self._client.v1.setup_intents.cancel_async(
                setup_intent_id, {"cancellation_reason": "duplicate"}
            ),
        )
        return SetupIntent.model_validate(setup_intent.to_dict())

    async def retrieve_payment_method(self, payment_method_id: str) -> PaymentMethod:
        """The PaymentMethod as Stripe has it now: whether it is blocked or detached."""
        method = await self._call(
            "payment_methods.retrieve",
            self._client.v1.payment_methods.retrieve_async(payment_method_id),
        )
        return PaymentMethod.model_validate(method.to_dict())

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
                "payment_methods.list",
                self._client.v1.payment_methods.list_async(params),  # type: ignore[arg-type]
            )
            found.extend(PaymentMethod.model_validate(item.to_dict()) for item in page.data)
            if not page.has_more or not page.data:
                return found
            starting_after = page.data[-1].id

    async def _call(self, operation: str, call: Awaitable[T]) -> T:
        async with observed_call(operation) as observation:
            result = await call
            observation.answered(result)
            return result
