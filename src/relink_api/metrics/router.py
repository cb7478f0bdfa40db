"""GET /metrics: the Prometheus text exposition of every family (docs/metrics.md)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from relink_api.errors import AdminUnauthorized
from relink_api.metrics.access import scraper
from relink_api.metrics.computed import (
    AccountsByHealth,
    accounts_families,
    backlog_families,
    read_backlog,
)
from relink_api.metrics.process import recorded
from relink_api.ratelimit.errors import RateLimited
from relink_api.web.deps import DatabaseDep, SettingsDep
from relink_api.web.inputs import STRICT_QUERY
from relink_api.web.responses import problem_responses

router = APIRouter(tags=["operations"], dependencies=[STRICT_QUERY])

_EXAMPLE = """\
# HELP relink_webhook_events_total Stripe webhook events received, by event type and result.
# TYPE relink_webhook_events_total counter
relink_webhook_events_total{result="applied",type="financial_connections.account.deactivated"} 3.0
# HELP relink_outbound_queue_depth Outbound deliveries pending.
# TYPE relink_outbound_queue_depth gauge
relink_outbound_queue_depth 0.0
"""

# Refused off loopback as an operator route refuses: no key, a wrong key, too many guesses.
_REFUSALS: dict[int, tuple[str, str, str]] = {
    status: (problem.slug, problem.title, detail)
    for status, problem, detail in (
        (
            401,
            AdminUnauthorized,
            "Off this machine, /metrics takes an admin API key in X-Admin-Key.",
        ),
        (429, RateLimited, "Too many failed admin API key attempts from this address."),
    )
}


class _Scrape(Collector):
    """What one scrape shows: the recorded families, then those computed for it."""

    def __init__(self, recorded: Collector, computed: Iterable[Metric]) -> None:
        self._recorded = recorded
        self._computed = computed

    def collect(self) -> Iterator[Metric]:
        yield from self._recorded.collect()
        yield from self._computed


@router.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics",
    description="Every metric family in the Prometheus text format (docs/metrics.md): "
    "request latency by route template, Stripe calls, webhook events, relink outcomes, "
    "outbound deliveries and queue depth, accounts by link health, the database pool. "
    "Answers callers on this machine (127.0.0.0/8, ::1, and no `Forwarded` or "
    "`X-Forwarded-For` header) without credentials, and anyone else with an admin API key "
    "in `X-Admin-Key`: a 401 otherwise, failed keys throttled as on the operator API.",
    response_class=Response,
    responses={
        200: {
            "description": "The text exposition format, version 0.0.4.",
            "content": {
                "text/plain; version=0.0.4": {"schema": {"type": "string"}, "example": _EXAMPLE}
            },
        },
        **problem_responses(401, 422, 429, 500, 503, examples=_REFUSALS),
    },
    # Loopback callers need nothing: the admin key is one of two ways in. (The key's own
    # requirement is added by the dependency.)
    openapi_extra={"security": [{}]},
    dependencies=[Depends(scraper)],
)
async def metrics(request: Request, db: DatabaseDep, settings: SettingsDep) -> Response:
    accounts: AccountsByHealth = request.app.state.metrics_accounts
    db.note_pool()
    backlog = await read_backlog(db, query_seconds=settings.metrics_query_timeout_seconds)
    computed = [
        *backlog_families(backlog),
        *accounts_families(await accounts.read(db)),
    ]
    body = generate_latest(_Scrape(recorded(), computed))
    return Response(
        body, media_type=CONTENT_TYPE_PLAIN_0_0_4, headers={"Cache-Control": "no-store"}
    )
