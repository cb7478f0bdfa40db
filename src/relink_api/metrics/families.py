"""Every metric family relink-api records, with its labels.

Label values are always from a closed set (a route template, never a raw path; a Stripe
operation name, never an id), so that no caller can grow the number of series.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

# A `_created` sample beside every counter and histogram series doubles what each scrape
# carries and no alert reads it (multiprocess mode never writes them either).
disable_created_metrics()  # type: ignore[no-untyped-call]

# Our own registry, not the library's global one: a module imported again (tests that
# reload the package) registers its families afresh instead of colliding.
REGISTRY = CollectorRegistry(auto_describe=True)

# Seconds; from a cached read (a few ms) up to Stripe's timeout with retries.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUEST_SECONDS = Histogram(
    "relink_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=_LATENCY_BUCKETS,
)

STRIPE_CALL_SECONDS = Histogram(
    "relink_stripe_request_duration_seconds",
    "Time of a call to Stripe's API (the SDK's retries included), by operation and outcome.",
    ["operation", "outcome"],
    registry=REGISTRY,
    buckets=_LATENCY_BUCKETS,
)

WEBHOOK_EVENTS = Counter(
    "relink_webhook_events",
    "Stripe webhook events received, by event type and result "
    "(applied, duplicate, stale, ignored, refused).",
    ["type", "result"],
    registry=REGISTRY,
)

RELINK_OUTCOMES = Counter(
    "relink_relink_outcomes",
    "Relink sessions whose outcome was verified with Stripe, by scope and outcome.",
    ["scope", "outcome"],
    registry=REGISTRY,
)

OUTBOUND_DELIVERIES = Counter(
    "relink_outbound_delivery_attempts",
    "Attempts to deliver an event to the host application's endpoints, by result.",
    ["result"],
    registry=REGISTRY,
)

REMINDERS = Counter(
    "relink_reminders",
    "Reminder events emitted to the host application, by schedule (broken, expiring).",
    ["schedule"],
    registry=REGISTRY,
)

# Set by each process from its own pool; `livesum` adds up the live processes' pools when
# several share PROMETHEUS_MULTIPROC_DIR (docs/metrics.md).
DB_POOL_CONNECTIONS = Gauge(
    "relink_db_pool_connections",
    "Database connections of this process's pool, by state (in_use, idle).",
    ["state"],
    registry=REGISTRY,
    multiprocess_mode="livesum",
)

# Labelled, like every family here: a value is only created (and, with several processes,
# its file written) once a process has a pool, never on import.
DB_POOL_LIMIT = Gauge(
    "relink_db_pool_limit_connections",
    "The bounds of this process's pool, by bound: min (connections kept open, "
    "RELINK_DB_POOL_MIN_SIZE) and max (RELINK_DB_POOL_MAX_SIZE).",
    ["bound"],
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
