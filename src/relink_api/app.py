"""The FastAPI application: routers, error handling, and the resources it owns."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from relink_api import __version__
from relink_api.accounts.router import router as accounts_router
from relink_api.admin.router import router as admin_router
from relink_api.auth import Authenticator
from relink_api.background import run_in_background
from relink_api.db.embedded import stop_embedded_postgres
from relink_api.db.opening import open_database
from relink_api.db.supervisor import EmbeddedPostgresSupervisor
from relink_api.edge.body_limit import BodyLimitMiddleware, BodyLimits, document_body_limits
from relink_api.edge.cors import add_cors
from relink_api.edge.front import FrontMiddleware
from relink_api.edge.unexpected import UnexpectedErrorMiddleware
from relink_api.gateway.client import StripeGateway
from relink_api.logs import protect_third_party_loggers
from relink_api.metrics.computed import AccountsByHealth
from relink_api.metrics.process import forget_this_process
from relink_api.metrics.router import router as metrics_router
from relink_api.outbound.router import router as outbound_router
from relink_api.outbound.worker import delivery_loops
from relink_api.page import mount_page
from relink_api.page import router as page_router
from relink_api.payments.router import router as payments_router
from relink_api.probes import router as probes_router
from relink_api.prompts.scheduler import reminder_loops
from relink_api.ratelimit.service import stripe_budget
from relink_api.reconcile.scheduler import run_periodically
from relink_api.relink.return_page import router as relink_return_router
from relink_api.relink.router import router as relink_router
from relink_api.settings import ConfigurationError, Settings
from relink_api.web.api_docs import mount_api_docs
from relink_api.web.event_catalogue import document_events, tidy_event_operations
from relink_api.web.examples import restore_model_examples
from relink_api.web.pages import PAGE_HEADERS
from relink_api.web.problem_pages import router as problem_pages_router
from relink_api.web.problems import Problem, install_problem_handlers
from relink_api.webhooks.router import DeliveryRoute
from relink_api.webhooks.router import router as webhooks_router

logger = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if settings.stripe_secret_key is None:
        raise ConfigurationError(
            "relink-api needs STRIPE_SECRET_KEY (a test-mode sk_test_… key) to talk to Stripe, "
            "or the sandbox, which `relink-api serve --sandbox` starts with keys of its own."
        )
    # Everything acquired here is released in reverse order, whatever fails.
    async with AsyncExitStack() as stack:
        # Last of all, this process's pool gauges leave the multiprocess sums (uvicorn's
        # re-raised SIGTERM would skip atexit).
        stack.callback(forget_this_process)
        if settings.database_url is None:
            # uvicorn re-raises SIGTERM after shutting down, so pgserver's exit handler
            # would never stop the embedded server: stop it here, last of all.
            stack.push_async_callback(asyncio.to_thread, stop_embedded_postgres, settings.data_dir)
        database = await open_database(settings)
        stack.push_async_callback(database.close)
        if settings.database_url is None:
            # --- The embedded server's supervisor: restarts it when it dies (issue 11) ---
            supervisor = EmbeddedPostgresSupervisor(
                settings.data_dir, unhealthy_after=settings.embedded_db_unhealthy_after_seconds
            )
            app.state.embedded_postgres = supervisor
            run_in_background(stack, supervisor.run(), name="embedded-postgres")
        # Every HTTP attempt to Stripe takes from one budget shared by all processes.
        budget = stripe_budget(database, settings)
        gateway = StripeGateway(
            settings,
            api_key=settings.stripe_secret_key.get_secret_value(),
            budget=budget.on_request_path,
        )
        stack.push_async_callback(gateway.aclose)
        app.state.database = database
        app.state.stripe = gateway
        if settings.sandbox:
            from relink_api.sandbox.lifecycle import start_sandbox

            await start_sandbox(app, database, settings, stack)
        # With `serve --workers N`, only the first worker runs the background loops: they
        # would tolerate N copies (leases, SKIP LOCKED), but gain nothing from them.
        loops_here: bool = app.state.background_loops
        if loops_here and settings.sync_interval_seconds > 0:
            run_in_background(
                stack, run_periodically(database, gateway, settings), name="scheduled-sync"
            )
        # --- Loops that work through the database's queues (`relink-api worker` runs the
        # same ones): outbound deliveries and reminders.
        loops = (
            [
                *delivery_loops(database, settings, settings.outbound_workers),
                *reminder_loops(database, gateway, settings),
            ]
            if loops_here
            else []
        )
        for name, loop in loops:
            run_in_background(stack, loop, name=name)
        yield


OPENAPI_TAGS = [
    {"name": "accounts", "description": "The caller's linked bank accounts and their link health."},
    {"name": "authorizations", "description": "Bank logins, as Stripe has them now."},
    {
        "name": "relink-sessions",
        "description": "Repair a broken link: start a Stripe relink session, then verify "
        "its outcome with Stripe.",
    },
    {
        "name": "payment-methods",
        "description": "ACH payment methods set up from an account a relink linked in place "
        "of another.",
    },
    {
        "name": "admin",
        "description": "The operator API, across every customer (an admin API key in "
        "`X-Admin-Key`).",
    },
    {"name": "webhooks", "description": "Stripe's signed event deliveries."},
    {
        "name": "events",
        "description": "What relink-api sends to the host application's endpoints, signed "
        "per Standard Webhooks (docs/events.md).",
    },
    {"name": "page", "description": "What the bundled page and apps read before starting."},
    {"name": "probes", "description": "Liveness and readiness for load balancers."},
    {
        "name": "operations",
        "description": "Prometheus metrics, for callers on this machine or operators "
        "(docs/metrics.md).",
    },
]


def openapi_servers(settings: Settings) -> list[dict[str, str]]:
    """The document's base URL: the deployment's ``RELINK_PUBLIC_BASE_URL``, else the address
    ``relink-api serve`` listens on by default (what the committed document shows)."""
    if settings.public_base_url:
        return [
            {
                "url": settings.public_base_url.rstrip("/"),
                "description": "This deployment (RELINK_PUBLIC_BASE_URL).",
            }
        ]
    host = Settings.model_fields["host"].default
    port = Settings.model_fields["port"].default
    return [
        {
            "url": f"http://{host}:{port}",
            "description": "`relink-api serve` with its default host and port; a deployment "
            "puts its own base URL here (RELINK_PUBLIC_BASE_URL).",
        }
    ]


# pyproject.toml's license (a unit test keeps them equal), as an SPDX identifier.
OPENAPI_LICENSE = {"name": "MIT", "identifier": "MIT"}
OPENAPI_CONTACT = {"name": "relink-api maintainers"}


def create_app(settings: Settings, *, background_loops: bool = True) -> FastAPI:
    """Build the app for these settings; the lifespan opens the pool and the Stripe client,
    and starts the background loops unless ``background_loops`` is false."""
    protect_third_party_loggers()
    app = FastAPI(
        title="relink-api",
        version=__version__,
        summary="Keeps Stripe Financial Connections bank links alive.",
        description=(
            "Learns which linked bank accounts broke (or soon will), creates Stripe relink "
            "sessions for them, and verifies with Stripe what the customer did. Every error "
            "is an RFC 9457 problem document (`application/problem+json`) whose `type` is "
            "one of the stable `/problems/<slug>` URIs listed in docs/problems.md.\n\n"
            "Customer routes take `Authorization: Bearer <JWT>` naming the Stripe customer "
            "(`BearerAuth`); operator routes under `/v1/admin/` take an admin API key in "
            "`X-Admin-Key` (`AdminApiKey`); Stripe's webhook is authenticated by its "
            "`Stripe-Signature` header."
        ),
        lifespan=lifespan,
        openapi_tags=OPENAPI_TAGS,
        servers=openapi_servers(settings),
        contact=OPENAPI_CONTACT,
        license_info=OPENAPI_LICENSE,
        # Served by mount_api_docs from installed files: FastAPI's pages need a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.background_loops = background_loops
    app.state.authenticator = Authenticator(settings)
    app.state.metrics_accounts = AccountsByHealth(
        max_age=settings.metrics_accounts_cache_seconds,
        query_seconds=settings.metrics_query_timeout_seconds,
    )
    install_problem_handlers(app)
    # --- HTTP edge (relink_api.edge), innermost first: a request meets the front (the
    # latency histogram, the request id and access log, security headers), then CORS, the
    # body limit, and (last, around the routes) the 500 for what no handler took.
    app.add_middleware(UnexpectedErrorMiddleware)
    body_limits = BodyLimits.for_service(settings.max_body_bytes)
    app.add_middleware(BodyLimitMiddleware, limits=body_limits)
    add_cors(app, settings.cors_allowed_origins)
    app.add_middleware(FrontMiddleware, html_headers=PAGE_HEADERS)
    app.include_router(probes_router)
    app.include_router(metrics_router)
    app.include_router(accounts_router)
    app.include_router(relink_router)
    app.include_router(payments_router)
    app.include_router(relink_return_router)
    app.include_router(admin_router)
    app.include_router(outbound_router)
    app.include_router(webhooks_router)
    # Stripe's deliveries skip the walk through the routers above (webhooks.router).
    app.router.routes.insert(0, DeliveryRoute())
    app.include_router(page_router)
    app.include_router(problem_pages_router)
    if settings.sandbox:
        from relink_api.sandbox.mount import mount_sandbox

        mount_sandbox(app)
    mount_api_docs(app)
    mount_page(app)
    document_events(app)
    _register_problem_schema(app, body_limits)
    return app


def _register_problem_schema(app: FastAPI, body_limits: BodyLimits) -> None:
    # Routes reference #/components/schemas/Problem; make sure it is always present.
    original = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            schema = original()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            # Nested models become components of their own, where the refs point.
            schemas.update(problem.pop("$defs", {}))
            schemas["Problem"] = problem
            restore_model_examples(schemas)
            tidy_event_operations(schema)
            document_body_limits(schema, body_limits)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
